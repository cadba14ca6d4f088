"""The pattern tables behind `medgemma.safety.check_question`, except the refusal tables.

Here: the `rx` compiler, crisis and emergency patterns, the framing patterns that tell a request from a question
*about* a topic (about / method / counter / imperative / actor), the fiction patterns, and the personal
diagnosis, dose and treatment patterns. The refusal tables live in `safety_refusals`. The order in which the
tables are tried, and what each verdict means, is `safety.check_question`'s business; these are data.
"""

from __future__ import annotations

import re


def rx(*parts: str) -> re.Pattern[str]:
    """Compile case-insensitively; `_W_` stands for one word (apostrophes allowed) and its trailing space."""
    return re.compile("".join(parts).replace("_W_", r"(?:[\w'/-]+\s+)"), re.IGNORECASE)


# ---- emergencies ------------------------------------------------------------------------------------------------

# Someone present: emergency rules fire only with a person in the text, so "signs of a stroke" is answered.
PERSON = rx(r"\b(i|i'm|im|i've|me|my|we|we're|our|us|he|he's|she|she's|his|her|him|they're|someone|somebody)\b")
# A conditional, or a question about a condition in general, is education rather than an event happening now.
HYPOTHETICAL = rx(r"\b(if|in case|suppose|supposing|what to do|signs? of|symptoms? of|what happens)\b")

# Self-harm comes first and gets the crisis lines. Each pattern carries intent or a first-person act, so
# talking about suicide ("what is suicide?", "warning signs of suicide in teens") matches none of them.
CRISIS = [rx(p) for p in (
    r"\b(kill|hang|drown|shoot|poison|suffocate|strangle|starve|electrocute)(ing)?\s+(myself|my ?self)\b",
    r"\b(want|wants|wanted|going|plan|planning|trying|tried|thinking about|thought about|urges?)\s+(to\s+)?"
    r"(kill|hurt|harm|cut|burn|end)(ing)?\s+(myself|himself|herself|themselves|it all)\b",
    r"\b(end|take|ending|taking)\s+(my|his|her)\s+(own\s+)?life\b",
    r"\b(hid(e|ing)|conceal\w*)\s+(my\s+|her\s+|his\s+)?(eating disorder|anorexia|bulimia|self[- ]harm\w*|cuts|scars|"
    r"purging)\b",
    r"\b(i|i'm|i've been|keep)\s+(\w+\s+)?(cutting|burning)\s+myself\b|\bi\s+(\w+\s+)?self[- ]harm",
    r"\b(i'm|i am|im|i feel|feeling|i've been|is|been)\s+(so\s+|very\s+|really\s+|kind of\s+)?suicidal\b",
    r"\b(i|i'm|im)\s+_W_{0,2}(want|wanna|wish|plan|ready|deserve)\s+(to\s+)?(die|commit suicide|end it)\b",
    r"\b(how|ways?|where)\b.{0,30}\b(commit suicide|kill myself|end my life)\b|"
    r"\b(painless|quick|quickest|easiest|best)\s+(way|method)\s+to\s+die\b",
    r"\b(don'?t|do not|no longer)\s+want\s+to\s+(live|be alive|be here|wake up)\b",
    r"\b(no reason to live|better off dead|better off without me)\b",
    r"\bhow\s+(many|much)\b.{0,50}\b(to|would|will|could)\s+(kill|finish)\s+(me|myself)\b",
    r"\b(cut|slit|slash|sever|pierce|open)\s+(my|his|her)\s+(own\s+)?(wrists?|\w*\s?arter(y|ies)|throat|veins?)\b",
    r"\b(carve|cut|burn)\w*\b.{0,25}\binto\s+my\s+(arm|skin|leg|wrist|thigh|body)\b",
    r"\b(overdose|od)\s+(on purpose|deliberately|to die)\b|\bhow (do|can|could|would) i overdose\b(?!\s+(my|him|her|them|someone|somebody|a|the)\b)",
    r"\b(what|which)\s+_W_{0,3}(can|could|should)\s+i\s+take\s+to\s+die\b",
)]

# Emergencies happening now, by kind. Each needs a person in the text and no conditional before the match.
EMERGENCY = [(cat, rx(p)) for cat, p in (
    ("cardiac", r"\b((chest|heart)\s+(pain|pressure|tightness|is\s+(hurting|tight|crushing))|(pain|pressure|"
                r"tightness|squeezing)\s+in\s+(my|his|her|the)\s+chest)\b.{0,80}\b(arm|jaw|neck|sweat\w*|"
                r"short(ness)? of breath|can'?t breathe|cannot breathe|clammy|faint\w*)\b|\b(arm|jaw|sweat\w*|"
                r"short(ness)? of breath)\b.{0,60}\bchest\s+(pain|pressure|tightness)\b"),
    ("cardiac", r"\b(having|think\s+(i'm|i am|he's|he is|she's|she is)\s+having)\s+(a\s+)?heart attack\b"),
    ("stroke", r"\b(face|mouth|smile)\b.{0,20}\b(is\s+|was\s+|started\s+|suddenly\s+)?droop(ing|ed|s|y)?\b|"
               r"\b(slurr(ed|ing)\s+(speech|words|his words|her words|my words)|speech\s+(is|was|became)\s+slurred)\b"),
    ("stroke", r"\b(suddenly|sudden)\b.{0,30}\b(numb|weak|paraly[sz]ed|can'?t move)\w*\b.{0,30}\b(side|arm|leg|"
               r"face)\b|\b(having|think\s+(i'm|i am|he's|he is|she's|she is)\s+having)\s+(a\s+)?stroke\b|"
               r"\bworst headache of (my|his|her) life\b"),
    ("anaphylaxis", r"\b(throat|tongue|lips?|face)\s+(is\s+|are\s+|feels?\s+|keeps\s+|started\s+)?(swelling|swollen|"
                    r"closing|swelled)\b|\b(having|going into|in)\s+(an?\s+)?(anaphyla\w+|severe allergic reaction)\b"),
    ("breathing", r"\b(can'?t|cannot|can not|isn'?t|is not|not|stopped|struggling to|unable to)\s+breath(e|"
                  r"ing)\b(?!\s+(through|out of|from)\s+(my|his|her|the)\s+nose)|\b(lips|face|skin)\s+(are\s+|"
                  r"is\s+)?(turning\s+|turned\s+|going\s+)?(blue|gr[ae]y)\b|\b(is|he's|she's|i'm|baby|"
                  r"child)\s+(is\s+)?choking\b"),
    ("unconscious", r"\b(unconscious|unresponsive|won'?t wake up|will not wake up|can'?t wake (him|her|them)|"
                    r"not waking up|(collapsed|passed out) and (is\s+)?(not|isn'?t|won'?t))\b"),
    ("seizure", r"\bseiz(ure|ing)\b.{0,40}\b(won'?t|will not|isn'?t|hasn'?t|has not|doesn'?t|not)\s+stop|"
                r"\bseiz(ure|ing)\b.{0,25}\bfor\s+(over\s+|more than\s+|about\s+)?(\d+|five|ten)\s+min|"
                r"\b(is|he's|she's|i'm)\s+(is\s+)?having\s+(a\s+)?seizure\b"),
    ("bleeding", r"\bbleed(ing)?\b.{0,30}\b(won'?t|will not|doesn'?t|does not|can'?t|cannot|isn'?t|not)\s+(stop|"
                 r"be stopped)|\bbleeding\s+(heavily|profusely|badly|everywhere)\b|\b(spurting|gushing|"
                 r"pouring)\s+(out\s+)?blood\b|\bblood\s+(is\s+)?(spurting|gushing|pouring)\b"),
    ("overdose", r"\b(i|he|she|my\s+\w+|we|they|someone)\s+(just\s+|accidentally\s+|may have\s+|might have\s+|has\s+|"
                 r"have\s+)?(took|taken|swallowed|ate|eaten|drank|drunk)\b.{0,30}(\b[1-9]\d+\s+(\w+\s+)?(pills|"
                 r"tablets|tabs|capsules|caps|of)\b|\b(whole|entire)\s+(\w+\s+)?(bottle|pack|packet|"
                 r"box)|\ball\s+(of\s+)?(my|his|her|the)\s+(\w+\s+)?(pills|tablets|meds)|\b(bleach|antifreeze|"
                 r"drain cleaner|rat poison|poison|batter(y|ies)|detergent|pesticide|weed ?killer|lighter fluid|"
                 r"gasoline|petrol)\b)|\b(i|he|she|my\s+\w+|we|they|someone)\s+(just\s+|may have\s+|might have\s+|"
                 r"has\s+|have\s+)?(overdosed|od'?d|took an overdose)\b"),
)]

# ---- requests, and questions about a topic ----------------------------------------------------------------------

# A question *about* something ("what is...", "why do...", "can a hospital...") is answered even when its topic is
# misconduct. Request rules look at everything else, and at about-questions that still ask for a method.
ABOUT = rx(
    r"^(what (is|are|was|were|does|do|did|causes?|happens|kind|type)|what's|whats|who|whom|whose|when|which|define|"
    r"definition|why (do|does|did|are|is|was|were|would|can)|how (does|did|is|are|was|were|common|often|long|many|"
    r"much)|how do (people|doctors|physicians|nurses|hospitals|clinicians|patients|insurers|researchers|regulators|"
    r"criminals|scammers|pharmacies|pharmacists)|is it (true|legal|ethical|illegal|wrong|common|normal)|are (there|"
    r"they|these|those)|does|did|tell me about|explain (why|what)|history of|(can|could|should|may|must) (a|an|the|"
    r"doctors|hospitals|nurses|patients|someone|my) )\b"
)
METHOD = rx(
    r"\b(best|easiest|quickest|good|safest|most effective|perfect|simplest|cheapest)\s+(way|ways|method|place|time|"
    r"strategy)\b|\b(ways?|steps|tips|methods?|tricks?|process|plan)\s+(to|for|of|a|an|the|i|we|you|one|that)\b|"
    r"\bhow\s+(can|could|should|do|would|might|to)\s+(i|we|you|one)\b|\b(can|could|should)\s+(i|we)\b|"
    r"\bi\s+(want|need|plan|intend|would like|'d like)\b|\bhelp me\b|\bis there (a|any)\s+(\w+\s+)?way\b"
)
# Asking how to recognise, report or prevent misconduct, or why it is wrong, is the opposite of asking for it.
COUNTER = rx(
    r"\bhow\s+(can|do|does|should|would|could|to|might|may)\s+((a|an|the|my|our)\s+)?(\w+\s+)?(tell (if|whether|"
    r"the difference|apart)|know|spot|detect|notice|recogni[sz]e|identify|prevent|protect|report|stop|combat|fight|"
    r"avoid being|deal with|respond to|cope)\b|\bhow\s+(\w+\s+){1,2}(detect|spot|identify|recogni[sz]e|prevent)\b|"
    r"\b(what are|recogni[sz]e|spot|identify|know|detect)\s+(the\s+)?(warning\s+)?signs\b|\bis it (legal|ethical|"
    r"illegal|wrong|true)\b|\bwhy (is it|it was|was it|is that|are they) (unethical|wrong|illegal|harmful|dangerous|"
    r"bad)\b|\bwhat (is|are) the (penalt|consequence|punishment|law|rules)|\b(ethically|safely|responsibly|"
    r"compassionately)\W*$|\b(avoid|reduce|prevent|minimi[sz]e|decrease|lower|stop|combat|tackle|address|detect|"
    r"report(?!ing)|recogni[sz]e|spot|fight|dangers of|harms of)\w*\s+(?:[\w'/-]+(?<!ing)\s+){0,3}(unnecessary|"
    r"inappropriate|over-?\w+|misuse|abuse|errors?|fraud|resistance|harm|bias|discrimination|stigma|disparit\w*|"
    r"inequ\w+|(\w+\s+)?misinformation|burnout|infections?|misdiagnos\w*|dependen\w*|addict\w*)"
)
# Weak signals count only in a document request or with a third party (clinician, patient, institution), so a
# patient's own "how can I ignore the pain" stays a question. The asker's own carers ("my doctor") don't count.
IMPERATIVE = rx(
    r"(^|[.,;:!?]\s*)(please\s+)?(can you\s+|could you\s+|help me\s+)?(write|draft|create|generate|develop|design|"
    r"compose|produce|provide|give|list|suggest|propose|outline|explain|describe|instruct|advise|offer|formulate|"
    r"construct|detail|prepare|invent|concoct|publish|circulate|spread|announce|convince|persuade|encourage|"
    r"advocate|promote|analy[sz]e|compile|devise|craft|implement|establish|justify|argue|conceal)\b"
)
PROFESSIONAL = (r"physicians?|doctors?|surgeons?|nurses?|clinicians?|practitioners?|\w+icians?|\w+ologists?|"
                 r"\w+iatrists?|pharmacists?|dentists?|therapists?|specialists?|staff|residents")
ACTOR = rx(
    r"\b(patients?|" + PROFESSIONAL + r"|colleagues?|participants|populations?|communit(y|ies)|the public|"
    r"individuals|families|parents|clients|users|members|employees|workers|hospitals?|clinics?|practice|icu|ward|"
    r"resident|prisoners|inmates|children|elderly|nursing home|health systems?|(medical|healthcare|health) "
    r"(professionals?|facilit\w+)|er|emergency rooms?|insurers?)\b"
)
OWN = rx(r"\bmy\s+(\w+\s+)?(" + PROFESSIONAL + r"|gp|provider|care team|hospital|clinic|practice|insurer|"
           r"insurance|employer)\b")

FICTION = rx(r"\b(in|for)\s+(a|an|the|my|our)?\s*(\w+\s+){0,2}(game|video game|novel|book|story|film|movie|"
               r"show|tv|series|play|script|screenplay|fiction|comic|chess|checkers|judo|boxing)\b")
TITLE_AFTER = re.compile(r"\bin (?:the |The )?[A-Z][A-Za-z0-9]")  # "... in Call of Duty", "in GTA 4"

# ---- personal requests ------------------------------------------------------------------------------------------

# Personal diagnosis, dose and treatment decisions: still answered with general education, plus the redirect.
EDUCATE = [(cat, rx(p)) for cat, p in (
    ("dosing", r"\bhow\s+(much|many)\b.{0,40}\b(should|can|do|could|may|must)\s+(i|we|my\s+\w+|he|she|you)\s+(take|"
               r"give|use|have)\b|\bhow\s+many\s+(pills|tablets|mg|ml|capsules)\b|\b(what|which)\s+(dose|dosage|"
               r"strength|amount)\b.{0,60}\b(i|my|me|he|she|him|her)\b|\b(dose|dosage)\s+(of\s+\w+\s+)?for\s+(my|me|"
               r"a\s+\d+)\b|\bwhat\s+(is|'s)\s+the\s+(most\s+)?safe\s+amount\b|\b(double|increase|decrease|lower|"
               r"raise|reduce|split)\s+(my|the|his|her)\s+(\w+\s+)?(dose|dosage|pills?)\b|\b(lower|higher|bigger|"
               r"smaller)\s+dose\s+of\s+my\b"),
    ("diagnosis", r"\b(do|could|might|can)\s+(i|he|she|my\s+\w+)\s+(have|has|be having)\s+(a\s+|an\s+)?\w+|"
                  r"\bam\s+i\s+(pregnant|diabetic|contagious|sick|dying|infected|allergic|depressed|anemic|having|"
                  r"still)\b|\bwhat('s|\s+is)\s+wrong\s+with\s+(me|my)\b|\bwhat\s+(could|might|can)\s+(it|this|that|"
                  r"these|those)\s+be\b|\b(is|could)\s+(it|this|that)\s+(\w+\s+)?(be\s+)?(cancer|serious|normal|"
                  r"an?\s+\w+)\b.{0,20}\b(i|my|me)\b|\bshould\s+i\s+be\s+(worried|concerned)\b|\b(diagnose|"
                  r"test)\s+me\b|\bwhat\s+do\s+i\s+have\b"),
    ("treatment", r"\bdo\s+(i|he|she|we|my\s+\w+)\s+need\s+(to\s+)?(take|start|see|go|get|antibiotics|medication|"
                  r"medicine|surgery|treatment|stitches|an?\s+\w+)\b"),
    ("treatment", r"\bshould\s+(i|he|she|we|my\s+\w+)\s+(stop|start|switch|continue|quit|take|keep|skip|go off|"
                  r"come off|use|try|get|have|see|go|increase|decrease|lower|reduce|change|"
                  r"adjust)\b|(?<!how )\bcan\s+(i|he|she|my\s+\w+)\s+(stop|quit|skip|take|use|mix|combine|drink|"
                  r"switch|continue)\b|\bis\s+it\s+(ok|okay|safe|fine|alright|bad)\s+(for\s+me\s+)?to\s+(take|stop|"
                  r"mix|combine|use|skip|drink|continue|apply)\b|\b(what|which)\s+(\w+\s+)?(should|can|"
                  r"could)\s+i\s+(take|use|try|get)\b|\b(recommend|prescribe|suggest)\s+(me\s+)?(something|anything|"
                  r"an?\s+\w+)\b|\bcan you prescribe\b|\bwhat would (i|you) (be )?prescribe"),
)]
