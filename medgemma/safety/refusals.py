"""The refusal tables behind `medgemma.safety.check_question`, with the vocabulary they share.

REFUSE_ANY patterns carry their own request and apply even to questions *about* a topic; REFUSE patterns are
strong signals, enough on their own in a request; WEAK patterns count only in a document request or with a
third party. `safety.check_question` decides when each table is consulted; this module is data.
"""

from __future__ import annotations

from .rules import PROFESSIONAL as _PROFESSIONAL
from .rules import rx as _rx

_VICTIM = (r"(someone|somebody|a person|people|persons|humans?|a human|strangers?|humanity|mankind|the human race|"
           r"a group of \w+|\w+\s+people|immigrants|a population|a village|a city|an entire \w+|(my|the|a|an|his|"
           r"her|our)\s+(\w+\s+)?(wife|husband|spouse|partner|girlfriend|boyfriend|ex|neighbou?r|boss|co-?worker|"
           r"colleague|family|parents?|mother|father|mom|dad|son|daughter|baby|child|kid|toddler|sister|brother|"
           r"grand\w+|teacher|classmates?|roommate|patients?|doctor|nurse|date|friend|woman|man|girl|boy|cop|"
           r"police officer|politician|president|body)|(someone|somebody|my \w+|\w+)'s\s+(skull|head|face|car|"
           r"house|home|life|tires|motorbike|family))\b")
_GROUPS = (r"(people|women|men|immigrants|refugees|muslims|jews|christians|hindus|buddhists|sikhs|latinos|roma|"
           r"lesbians|gays|asians|africans|patients|physicians|doctors|nurses)")
_STREET_DRUGS = (r"(cocaine|(?<!can of )(?<!bottle of )(?<!diet )coke|crack|meth|methamphetamine|heroin|fentanyl|"
                 r"lsd|ecstasy|mdma|weed|marijuana|marihuana|ketamine|pcp|ghb|molly)\b")
_CONTROLLED = (r"(opioids?|oxy\w*|hydrocodone|vicodin|percocet|morphine|codeine|fentanyl|tramadol|benzo\w*|xanax|"
               r"valium|diazepam|alprazolam|klonopin|ativan|lorazepam|adderall|ritalin|modafinil|stimulants?|"
               r"steroids?|testosterone|ambien|zolpidem|ketamine|controlled (substances?|drugs?|medications?)|"
               r"prescription (drugs?|medications?|meds|painkillers|pills)|painkillers|sleeping pills|growth "
               r"hormones?|hgh)")

# Self-framed: these carry their own request ("why should <group> not...", "what is my <someone>'s PIN"), so
# they apply to about-questions too.
REFUSE_ANY = [(cat, _rx(p)) for cat, p in (
    # Hate: atrocities repeated, denied or praised; rights taken from a group.
    ("hate", r"\b(replicate|repeat|recreate|restore|bring back|reinstate)\s+.{0,60}\b(massacres?|genocide|attacks|"
             r"assassination|concentration camps?|atomic bombs?|discrimination|segregation|slavery|"
             r"apartheid)\b|\b(convince|make|show|prove)\b.{0,40}\b(never (happened|took place|existed)|"
             r"(a|complete) fabrication|was a hoax)\b|\bwhy was\b.{0,60}\b(right|justified|"
             r"a good thing)\b|\bbenefits of (ethnic cleansing|genocide|slavery|apartheid)\b|\bwhy is it (best|right|"
             r"good|better)\s+(for society\s+)?(that|for|if)\s+_W_{0,2}" + _GROUPS + r"\b|\btake away\s+_W_{0,2}"
             + _GROUPS + r"'s\s+(\w+\s+)?rights\b"),
    ("discrimination", r"\bwhy\s+(should|would|is it (best|right|good))\s+([\w']+[ -]){0,2}" + _GROUPS
                       + r"\s+((best|better)\s+)?((not|never)\s+(be (allowed|permitted|given|admitted|trusted|shown)|"
                       r"have (equal|the right|rights|access|kids|children)|get married|marry|vote|hold|run for|join|"
                       r"study|enter|live|work|lead)|be\s+(denied|barred|excluded|kicked|discriminated|deprived|"
                       r"refused|paid less)|have (fewer|less|no)|earn less)\b|\b(reasons?|"
                       r"why)\b.{0,30}\b([\w']+[ -]){0,2}" + _GROUPS + r"\s+should\s+(not|never)\s+(be allowed|"
                       r"be permitted|have|get married|hold|vote|join|run|study|enter)\b|\b(eradicate|eliminate|"
                       r"exterminate|segregate|sterili[sz]e)\s+(\w+\s+)?" + _GROUPS + r"\b"),
    # Asking what amount would kill another person.
    ("violence", r"\b(how (much|many)|(what|which) (dose|amount))\b.{0,50}\b(would|will|could|to|does it take to)\s+"
                 r"(kill|poison|knock out)\s+" + _VICTIM),
    # Someone else's private identifiers or health records.
    ("privacy", r"\b(my\s+_W_{0,2}[\w-]+'s|someone'?s|other people'?s|a stranger'?s|a patient'?s|"
                r"patients')\s+(\w+\s+)?(social security number|ssn|pin|password|login|credit card|bank account|"
                r"home address|email address|private email|phone number|passport|driver'?s licen[cs]e|tax records|"
                r"browsing history|sexual orientation|immigration status|criminal (history|record)|religious beliefs|"
                r"political affiliation|birth certificate|date of birth|marital status)\b|\b(celebrit\w+|"
                r"co-?workers?|colleagues?|neighbou?rs?|boss|employees?|ex|strangers?|politicians?|"
                r"someone)'?s?'?\s+((\w+\s+)?(medical|health|psychiatric|mental health)\s+(records?|history|"
                r"information|data)|(\w+\s+)?(scans?|x-rays?|test results|lab results|chart|files?|"
                r"prescriptions?( list)?|medications?|diagnosis))\b|\b(ex|ex-\w+|former \w+)'s\s+(\w+\s+)?(medical|"
                r"test|lab|health)\s+(records?|results|history)\b"),
)]

# Strong signals: in a request, each is enough.
REFUSE = [(cat, _rx(p)) for cat, p in (
    # Hurting people and general crime: what every assistant declines, medical or not.
    ("violence", r"\b(kill|killing|murder|murdering|execute|executing|shoot|shooting|stab|stabbing|strangle|choke|"
                 r"throttle|poison|poisoning|drown|suffocate|smother|beat up|beat|punch|hit|hurt|harm|attack|torture|"
                 r"kidnap|abduct|assassinate|behead|dismember|maim|overpower|hunt down|tackle|push|crush|smash|"
                 r"smash in|slash|eliminate|eradicate|exterminate|annihilate|wipe out|do away with|terminate|"
                 r"terminating|butcher|butchering|gut|chop up|saw|dispose of|euthani[sz]e|snipe|slay|hammer|rip off|"
                 r"ripping off|cut off|shatter|break open|crack open|drug|sedate|overdose|destroy|destroying|"
                 r"demolish|obliterate|decimate|decimating|liquidate|liquidating|capture)\s+((in|on|at|into)\s+)?"
                 + _VICTIM),
    ("violence", r"\b(blow up|bomb|bombing|set fire to|burn down|explode|attack|shoot up|slash)\s+(a|an|the|my|our|"
                 r"his|her|\w+'s)?\s*(\w+\s+)?(house|home|school|hospital|car|tires|church|mosque|synagogue|concert|"
                 r"stadium|city|plane|airport|office|base|clinic|bus|train|"
                 r"crowd)\b|\bmake\s+_W_{1,3}explode\b(?!\s+with)|\b(explod\w*|detonat\w*|plant\w*|"
                 r"set off)\s+(a\s+)?bombs?\b|\bplan\s+(someone|somebody|a person)'s death\b|\bset\s+(a|an|the|my|"
                 r"\w+'s)\s+(\w+\s+)?(house|home|school|hospital|car|building)\s+on fire\b|\bfind\s+(people|someone|"
                 r"a person)\s+to\s+(kill|shoot|hurt|attack|rob|stab)\b|\bkill\s+(the most )?people\b|\b(commit|"
                 r"committing|get away with|plan|planning|carry out|execute|engage in)\s+(a\s+|"
                 r"an\s+)?(\w+\s+)?(murder|massacre|genocide|assassination|arson|rape|kidnapping|terror\w*|shooting|"
                 r"armed robbery|violent assault|explosion|bombing)\b"),
    ("weapons", r"\b(make|making|build|create|produce|synthesi[sz]e|weaponi[sz]e|brew|extract|purify|get|"
                r"buy)\s+(a\s+|an\s+|some\s+)?(\w+\s+){0,2}(bio ?weapons?|chemical weapons?|nerve agents?|sarin|"
                r"ricin|anthrax|cyanide|poisons?|explosives?|pipe bombs?|a bomb|undetectable \w+|weapons?)\b"),
    ("crime", r"\b(commit|committing)\s+_W_{0,2}(fraud|theft|robbery|burglary|treason|crimes?)\b|"
              r"\b(launder|laundering|embezzle|embezzling)\b|\b(set up|run|start|engage in|"
              r"operate)\s+(a\s+)?human trafficking\b|\bwithout (getting|being) caught\b|\b(rob|steal|stealing)\s+(a|"
              r"an|the|my|someone'?s?|\w+'s)?\s*(\w+\s+)?(bank|casino|car|wallet|purse|identity|money|drugs|"
              r"medications?|prescription pads?|playstation|" + _CONTROLLED[1:-1] + r")\b|\bbreak into\s+(a|the|my|"
              r"someone'?s?|\w+'s)\s+_W_?(house|home|vault|car|pharmacy|apartment)\b|\btake\s+_W_{1,3}hostage\b|"
              r"\bdisable\s+(the\s+)?(alarm|security)"),
    # Drugs outside medicine: street drugs, and controlled medicines without a prescription or off the books.
    ("drugs", r"\b(buy|get|getting|find|score|obtain|make|cook|synthesi[sz]e|produce|sell|selling|deal)\s+(a\s+|"
              r"some\s+|a gram of\s+|\w+\s+)?" + _STREET_DRUGS + r"|\b(how|where|ways?|help me|want|give|inject|"
              r"administer)\b.{0,60}" + _CONTROLLED + r".{0,40}\bwithout (an?\s+)?(valid\s+)?(\w+\s+)?(prescription|"
              r"script|doctor|diagnosis)\b|\bsell\w*\s+_W_{0,3}" + _CONTROLLED + r"|\b(buy|get|obtain|order|sell|"
              r"access|use|prescrib\w*)\b.{0,60}\b(black market|dark ?web|on the street|illegally|"
              r"unofficial channels|for non-?medical (use|purposes)|recreational(ly)?)\b|\b(black market|smuggl\w*|"
              r"divert\w*\s+(\w+\s+)?(narcotics|opioids|drugs)|(doctor|pharmacy) shopping)\b"),
    # Harm done to a patient or relative directly: covert drugging, sedation for convenience, exploitation, abuse.
    ("abuse", r"\b(slip|put|hide|mix|sneak|crush)\w*\b.{0,40}\b(into|in)\s+(his|her|their|my\s+\w+'s|someone'?s|"
              r"\w+'s)\s+(\w+\s+)?(food|drink|coffee|tea|meals?|water|juice|bottle)\b|\bwithout\s+(him|her|them|"
              r"the patient|the family|patients|his family|her family)\s+(knowing|noticing|finding out|realizing|"
              r"being told)\b|\b(sedat\w*|tranquili[sz]\w*|sleeping pills|drug|"
              r"dope)\b.{0,60}\b(so (she|he|they)\s+(\w+\s+)?(sleeps?|stays?|keeps?|shuts?|won'?t|doesn'?t|can'?t)|"
              r"to keep (her|him|them) (quiet|calm|down)|through (my|the) shift|"
              r"for (my|our) convenience)\b|(?<!avoid )(?<!not )(?<!without )\bmak(e|ing)\s+_W_{0,3}(dependent|"
              r"addicted|hooked)\b|\b(by\s+)?(withhold\w*|deny\w*|taking away|skipp\w*)\s+(her|his|their|"
              r"the)\s+(meals?|food|water|pain ?relief|medication)\b.{0,40}\b(to|so|until|"
              r"unless)\b|\bby\s+(withhold\w*|deny\w*|taking away)\s+(her|his|their)\s+(meals?|food|water|"
              r"medication)\b|\b(lock\w*|tie|tying|strap\w*)\s+(\w+\s+)?(in|up|down|the door)\b|\b(sign over|"
              r"sign away|hand over|change (their|his|her) will|signature)\b.{0,80}\b(while|when|because)\s+(they|he|"
              r"she)('re|'s| are| is)?\s+(\w+\s+)?(confused|sedated|drunk|unconscious|incapacitated|not lucid|"
              r"out of it)\b|\b(sleep with|have sex with|seduce|sexual relationship with|date)\s+(a\s+|my\s+|his\s+|"
              r"her\s+|the\s+)?(patient|client)s?\b|\b(patient|client)s?\b.{0,40}\b(to|into)\s+(sleep|sleeping|"
              r"have sex|having sex)\s+with\b|\b(bully|bullying|harass|harassing)\b|\bscare\w*\s+_W_{0,2}into\b"),
    # Acts meant not to be found out, harm made to look natural, false statements ("...when it didn't").
    ("cover-up", r"\bwithout\s+(getting|being)\s+(caught|detected|sued|prosecuted)\b|"
                    r"\b(without|so (that )?)\s*(the\s+)?(patients?|customers|clients|residents|family|families|"
                    r"inspectors?|auditors?|regulators?|authorities|police|board|insurers?|counts?|records?|"
                    r"audits?)\s+(\w+\s+)?(noticing|knowing|finding out|showing|seeing|realizing|detecting|"
                    r"suspecting|(doesn'?t|don'?t|won'?t|can'?t|never)\s+(find out|notice|know|see|realize|"
                    r"suspect))\b|\bget away with\b|\b(look|looks|seem|seems|appear|appears)\s+(like\s+)?(an accident"
                    r"|accidental|natural causes|natural|a natural death|(a\s+)?suicide|self-inflicted|"
                    r"kidney failure|a heart attack)\b|\bwithout it (looking|showing|"
                    r"being obvious)\b|\bspik\w*\s+_W_{0,2}(drink|food|coffee|tea)\b|\bmak\w*\s+(my|a|the|his|"
                    r"her)\s+(\w+\s+)?(co-?worker|boss|wife|husband|partner|teacher|classmate|roommate|neighbou?r|"
                    r"colleague|ex|rival|sister|brother)\s+(\w+\s+)?(sick|ill|vomit|throw up|pass out|"
                    r"faint)\b|\b(saying|says|claim\w*|tell\w*|stat\w*)\b.{0,60}\b(even though|when|although)\s+(it|"
                    r"he|she|they|i|we)('ve|'s|'re)?\s+(has\s+|have\s+)?(didn'?t|did not|isn'?t|wasn'?t|hasn'?t|"
                    r"haven'?t|never|don'?t|doesn'?t|aren'?t)\b"),
    # Patients' money, signatures and dignity taken advantage of; neglect.
    ("exploitation", r"\b(give|transfer|leave|sign|hand)\w*\s+(\w+\s+){0,3}(to me|me (her|his|"
                     r"their))\b.{0,80}\b(confused|demented|senile|dementia|incapacitated|not lucid)\b|\b(confused|"
                     r"demented|senile|dementia|incapacitated)\b.{0,80}\b(give|transfer|leave|sign|"
                     r"hand)\w*\s+(\w+\s+){0,3}(to me|me (her|his|their))\b|\bso (i|we) can (control|take|get|have|"
                     r"access|spend) (his|her|their) (money|house|estate|savings|accounts?|property|"
                     r"pension)\b|\bin my favou?r\b|\bexploit\w*\s+_W_{0,2}(patients?|vulnerab\w*|their|the elderly|"
                     r"children|lack of|trust|fears?)\b|\btake advantage of\b|\bname (me|us)\s+(as\s+)?(the\s+|"
                     r"a\s+)?(beneficiary|executor|heir)\b|\b(patient|resident|client)('s|s')\s+(\w+\s+){0,2}(money|"
                     r"savings|payout|inheritance|estate|bank account|pension|credit card)\b|\b(sign|"
                     r"signing)\b.{0,40}\b(they|he|she)\s+(don'?t|doesn'?t|do not|does not|can'?t|"
                     r"cannot)\s+(understand|read)\b|\bmak\w*\s+_W_{0,3}feel\s+(too\s+|so\s+)?(ashamed|embarrassed|"
                     r"stupid|guilty|afraid|scared|worthless|humiliated)\b|\b(unturned|unattended all|unfed|soiled|"
                     r"sit in (their own )?(urine|feces|faeces))\b"),
    # Practices that injure: reused single-use kit, expired stock sold on, weight-loss purging, self-prescribing.
    ("unsafe-practice", r"\b(reus\w+|re-us\w+)\s+_W_{0,2}(single-use|disposable|needles?|syringes?|catheters?|"
                        r"lancets?)\b|\b(sell|relabel|re-label|dispens|repackag)\w*\b.{0,40}\bexpired\b|"
                        r"\bexpired\b.{0,40}\b(so (we|i) can|to) (sell|relabel|dispense)\b|"
                        r"\b(skip\w*|omit\w*|restrict\w*)\s+(\w+\s+)?insulin\b.{0,40}\b(lose weight|weight loss|"
                        r"thin)\b|\b(purg\w+|laxatives?|diuretics?|starv\w+|pro-ana|thinspo\w*|"
                        r"make (myself|yourself) (vomit|throw up))\b.{0,40}\b(lose weight|weight loss|thin|thinner|"
                        r"skinny)\b|\bdea (number|registration)\b|\bwrite (my own|myself)\s+(a\s+)?prescriptions?\b"),
    # Records broken into, bribes, blame shifted, practice while suspended, care left undocumented or refused.
    ("misconduct", r"\b(hack\w*|break\w*)\s+into\s+(the\s+|a\s+)?_W_{0,2}(records?|systems?|database|ehr|emr|"
                   r"portal|accounts?)\b|\bin (exchange|return) for (prescrib\w*|referr\w*|using|"
                   r"recommend\w*)\b|\b(take|takes|taking) the blame\b|\bblame (it|this|the error|"
                   r"the mistake)? ?on\b|\bscapegoat\w*|\b(without|stop|not)\s+(\w+\s+)?(documenting|recording|"
                   r"charting|logging)\b|\b(keep|continue|still)\w*\s+(operating|practi[cs]ing|working|prescribing|"
                   r"seeing patients)\b.{0,40}\b(suspended|revoked|struck off|"
                   r"without a licen[cs]e)\b|\bpay\w*\s+(them|him|her|participants|people|subjects)\s+(in|"
                   r"with)\s+(alcohol|drugs|cigarettes|opioids)\b|\b(take|steal)\w*\s+money\s+from\b|\b(avoid|refuse|"
                   r"stop|decline)\w*\s+(seeing|treating|admitting|taking on|accepting|serving|caring for|"
                   r"helping)\s+(\w+\s+){0,3}(patients|people|anyone|those|children|women|men|residents|"
                   r"clients)\b|\bso (that )?(i|we|she|he|they|it)\s+(qualif(y|ies)|gets? approved|pass(es)?|"
                   r"can bill|can claim|get paid|gets? paid)\b|\btamper\w*(?!-)\b|\bfalsif(y|ied|ies|ying)\b"),
    # Death hastened, expired devices used, colleagues' health snooped on, pregnancies ended without consent.
    ("abuse", r"\bso (she|he|they)\s+(dies?|die)\b|"
             r"\bhasten\w*\s+(her|his|their|the patient'?s?)\s+death\b|\b(use|using|implant\w*|give|inject\w*|"
             r"administer\w*)\s+(\w+\s+)?expired\s+(\w+\s+)?(implants?|drugs?|medications?|vaccines?|devices?|"
             r"stents?|supplies)\s+(on|in|to|for)\s+(patients|people|children|residents)\b|\b(find out|know|learn|"
             r"discover|check)\w*\s+(which|whether|if)\s+(\w+\s+){0,3}(employees|workers|staff|tenants|applicants|"
             r"co-?workers|colleagues)\s+(\w+\s+)?(are|is|have|has|take|taking|on)\s+(\w+\s+)?(antidepressants|hiv|"
             r"mental|psychiatric|medications?|std|sti|pregnan\w*|cancer|depression)\b|\b(induce|cause|trigger|"
             r"bring on)\w*\s+(a\s+)?(miscarriage|abortion)\b.{0,30}\b(without|her|"
             r"my (sister|girlfriend|wife|partner))\b"),
    # Restraint and coercion: people tied down, pressured into treatment, silenced, blamed, segregated.
    ("abuse", r"\b(tie|tying|strap\w*|chain\w*|lock\w*)\s+_W_{0,2}(to|in|up|down)\s+(the\s+|a\s+|his\s+|her\s+|"
                  r"their\s+)?(bed|chair|room|wheelchair|closet|basement)\b"),
    ("coercion", r"\b(pressur\w*|forc\w*|coerc\w*|bully\w*|guilt\w*|blackmail\w*|talk)\s+(?!myself|"
                 r"yourself)_W_{1,4}into\s+(a|an|the|having|getting|taking|signing|agreeing|accepting|\w+ing|"
                 r"(\w+\s+)?(therapy|treatment|surgery|abortion|marriage|sex|sterili[sz]ation|quarantine|camps?|"
                 r"trials?|studies|procedures?))\b|\b(be|being)\s+(forced|coerced|pressured)\s+into\s+(\w+\s+)?(camps"
                 r"?|quarantine|sterili[sz]ation|treatment|therapy|surgery|"
                 r"abortion)\b|\bconversion therapy\b|\b(people|patients|those|"
                 r"anyone)\s+with\s+(\w+\s+){1,2}should be (forced|locked|sterili[sz]ed|quarantined|isolated|banned|"
                 r"segregated|denied|barred|excluded|registered)\b|\bmak\w*\s+_W_{1,3}feel\s+(it was|it's|"
                 r"it is)\s+(her|his|their) fault\b|\bso (she|he|they)\s+(doesn'?t|don'?t|won'?t|never)\s+(report|"
                 r"tell|complain|sue|speak)\b|\bkeep\s+_W_{0,3}(drowsy|sedated|knocked out|doped|"
                 r"drugged)\b|\b(drowsy|sedated|doped)\b.{0,40}\beasier to (manage|handle|care for)\b"),
    # Procedures at home or with substances that are never medicine (injected silicone, bleach "cures").
    ("unsafe-practice", r"\b(perform|do|doing|performing)\s+(a\s+|an\s+)?(\w+\s+)?(\w+ectomy|\w+otomy|surgery|"
                        r"operation|transfusion|abortion|circumcision|stitches|"
                        r"liposuction)\b.{0,40}\bat home\b|\binject\w*\s+(\w+\s+)?(silicone|industrial|cooking oil|"
                        r"vaseline|petroleum jelly|bleach|cement)\b|\b(bleach|chlorine dioxide|mms|turpentine|"
                        r"kerosene)\s+(\w+\s+)?(enemas?|to cure|cure)\b|\b(give|feed|make)\w*\s+(my\s+|a\s+|the\s+|"
                        r"his\s+|her\s+)?(\w+\s+)?(son|daughter|child|kid|baby|patient|him|her)\s+(\w+\s+)?(bleach|"
                        r"mms|chlorine dioxide|turpentine|kerosene)\b"),
    # Samples or drugs swapped, results made to look different, charts turned against a patient, forged notes.
    ("fraud", r"\b(swap|switch|substitut|replac)\w*\b.{0,60}\b(with|for)\s+(a\s+|an\s+|the\s+)?(healthy|fake|"
              r"lookalike|look-alike|placebo|counterfeit|someone else'?s)\b|\b(doctor'?s?|medical|sick) (note|letter|"
              r"certificate|excuse)\b.{0,30}\b(excusing me|for me|for myself|saying i|"
              r"that says i)\b|\bprescrib\w*\s+(me\s+)?_W_{0,3}(i|that i)\s+(don'?t|do not)\s+(need|"
              r"have)\b|\bmak\w*\s+(\w+\s+){0,3}(results?|tests?|samples?|scans?|records?|charts?|levels?|numbers|"
              r"readings?|screens?)\s+(look|seem|appear|come back|read|show)\s+(\w+\s+)?(normal|negative|positive|"
              r"clean|healthy|better|worse|fine)\b|\b(put|write|add|note)\w*\b.{0,40}\b(chart|record|notes?|"
              r"file)\b.{0,40}\b(won'?t|will not|don'?t|not)\s+(believe|trust|take|prescribe)\b|\bforg(e|ed|"
              r"ing)\s+(a|an|the|my|your|someone'?s|\w+'s)\s+|\b(letter|note|certificate|prescription|"
              r"card)\b.{0,40}\b(print|make|write|sign)\s+(it\s+)?(myself|my own)\b|\bpretend\w*\s+(that\s+)?(a\s+|"
              r"the\s+|my\s+|our\s+|this\s+)?(treatment|drug|product|supplement|remedy|cure|pill|it)\s+(cured|works|"
              r"worked|healed|helped)\b|\bso (that )?(i|we) (can )?(sell|fire|bill|charge|earn|profit|"
              r"make (more )?money|get paid|keep the)\b"),
    ("discrimination", r"\bneed not apply\b"),
    ("privacy", r"\b(tell|inform|show)\w*\s+(the\s+)?(other\s+)?(teachers|staff|parents|students|co-?workers|class|"
                r"everyone|neighbou?rs|people)\s+(which|who|that)\b.{0,40}\b(hiv|aids|cancer|std|sti|hepatitis|"
                r"mental|depression|schizophrenia|bipolar|herpes|tb)\b"),
    # Consent taken away from patients or research participants.
    ("consent", r"\bwithout\s+(the\s+|their\s+|his\s+|her\s+|a\s+|any\s+|patients?'?s?\s+|participants?'?\s+|"
                r"athletes?'?\s+|parental\s+|prior\s+|explicit\s+|informed\s+|full\s+|fully\s+|proper\s+|clear\s+|"
                r"actual\s+|requiring\s+|obtaining\s+)*(consent|agreement|permission|knowledge|knowing|informing|"
                r"disclos\w+|anonymi[sz]\w+|blurring)\b|\bwithout\s+(telling|informing|asking)\s+(them|him|her|"
                r"the (?!doctor|gp|pharmacist|nurse)\w+|their \w+|patients|participants|people|prisoners|"
                r"parents)\b|\bnon-?consen\w+\b|\bbypass\w*\s+_W_{0,2}consent\b|\b(falsif|fabricat|"
                r"forg)\w*\s+_W_{0,3}consent\b"),
    # Health information told to people who have no business with it; covert recording or study.
    ("privacy", r"\b(share|sharing|disclos\w+|divulg\w+|reveal\w*|leak\w*|sell\w*|publish\w*|post\w*|expos\w+|"
                r"discuss\w*|gossip\w*|retriev\w+|access\w*)\b.{0,60}\b(patients?'?s?|client'?s|colleague'?s|"
                r"celebrit\w+'?s?|politician'?s|employee'?s|confidential|private|personal)\s+_W_{0,4}(medical|health|"
                r"psychiatric|genetic|hiv|records?|information|data|history|diagnosis|status|condition|prognosis|"
                r"identity|results|x-rays?|images?|conversations|evaluation|struggle)\b|\b(secretly|covertly|"
                r"discreetly)\s+(record|administer|give|drug|put|slip|collect|track|monitor|observe|study|enroll|"
                r"replace|switch|medicate|sedate|sell)\b|\bgossip\b|\bcovert\s+(\w+\s+)?(study|experiment|"
                r"observation\w*|trial)\b"),
    # Fraud: fake or altered records, results, certificates, claims; lies; cover-ups; impersonation.
    ("fraud", r"\b(fake|faked|faking|falsif\w+|fabricat\w+|forge|forged|forging|counterfeit\w*|fraudulent\w*|"
              r"fictitious|doctor(ed|ing)|alter\w*|manipulat\w*|modif(y|ied|ies|ying)|adjust\w*|invent\w*|"
              r"mak(e|ing) up|made up)\s+_W_{0,4}(records?|certificates?|note|prescriptions?|data|results?|reports?|"
              r"diagnos\w+|symptoms|documentation|documents?|letter|exemptions?|logs?|charts?|trials?|stud(y|ies)|"
              r"claims?|testimonials?|endorsements?|statistics|research|cure|history|scores|surveys|feedback|forms?|"
              r"narrative|outcomes|summary|accusations?|images?|invoices?|bills?|reviews?|"
              r"ratings?)\b|\bfake\s+_W_{0,2}(cure|remedy|treatment|drug|medicine|pills?|vaccines?|supplement|doctor|"
              r"nurse|degree|licen[cs]e|credentials|pharmac\w+|clinic|website|charity)\b"),
    ("fraud", r"\b(charg|bill|claim)\w*\b.{0,60}\b(that|which|when)\s+(only|never|didn'?t|don'?t|weren'?t|were not|"
              r"actually)\b|\b(say|saying|claim\w*|tell\w*|pretend\w*)\b.{0,60}\b(made up|are fake|is fake|"
              r"aren'?t real|isn'?t real|not real|imaginary|all in (her|his|their) head)\b|\b(insurance|billing|"
              r"medicare|medicaid|disability|tax)\s+(fraud|scams?)\b|\bscams?\b|\bkickbacks?\b|\b(evade|evading|"
              r"evasion of)\s+(taxes|detection|legal|the law|audits?|authorities|regulat\w+)\b|\b(downcod\w+|"
              r"upcod\w+)\b|\bavoid\s+(detection|getting caught|audits?|legal consequences)\b|\bfalsely\b|"
              r"\bfraudulently\b|\b(cheat|beat|pass|fool|trick)\s+(a|the|my)\s+(drug|urine|doping)\s+tests?\b|"
              r"\b(bill|charge|claim|report)\w*\b.{0,40}\b(never|not|wasn'?t|weren'?t|didn'?t)\s+(performed|provided|"
              r"done|given|happen\w*|ran|run|conducted)\b|\b(charg|bill)\w*\s+_W_{0,3}for (the\s+)?(real|brand|"
              r"expensive|actual)\b|\bpocket the (difference|money)\b|\b(use|using|steal\w*|stolen|"
              r"borrow\w*)\s+(a\s+|an\s+|the\s+)?(dead\s+|deceased\s+|another\s+|someone'?s\s+|"
              r"other\s+)?(\w+'s\s+)?(identity|insurance card|medicare number|id card)\b"),
    ("fraud", r"\b(cover(ing)? up|conceal\w*|hid(e|es|ing)|bury)\s+_W_{0,4}(errors?|mistakes?|side effects?|evidence|"
              r"incompetence|lack of|misdiagnos\w+|complications?|deaths?|malpractice|negligence|contaminat\w*|"
              r"defect\w*|faulty|outbreaks?)\b|\bso (we|i) (don'?t|do not|won'?t) have to (recall|report|disclose|"
              r"tell)\b|\bhid(e|ing)\s+(their|his|her|the)\s+(side effects|symptoms|adverse \w+|reactions|results|"
              r"errors?)\b|\bhid(e|ing)\b.{0,40}\bfrom (the\s+)?(monitors?|auditors?|inspectors?|regulators?|fda|"
              r"board|investigators?|sponsor)\b|\bremov\w*\s+(\w+'s\s+)?name from\b|\bsteal\w*\s+(the\s+)?(credit|"
              r"authorship|(her|his|their) (work|data|research))\b|\bplagiari[sz]\w*|\b(keep (it|this|that|them|"
              r"things) quiet|hush\w* up|sweep\w* (it|this|that) under|get rid of (the\s+)?(evidence|"
              r"records?)|destroy\w* (the\s+)?(evidence|records?)|shred\w*)\b|\blie\s+(to|about)\s+(my\s+|a\s+|"
              r"the\s+|our\s+)?(patients?|famil\w+|parents|insurers?|regulators?|auditors?|inspectors?|"
              r"investigators?|the board|the fda|the court|police|side effects|risks?)\b|\b(mak|lett?)\w*\s+(my\s+|"
              r"the\s+|a\s+|our\s+)?(patients?|them|her|him|parents|famil\w+)\s+(think|believe)\b|\b(tell\w*|say\w*|"
              r"inform\w*)\b.{0,40}\b(was|is|were|are)\s+(fine|normal|clear|negative|"
              r"benign)\b.{0,30}\bwhen\b|\b(pretend\w*|posing|pose|impersonat\w*)\s+(to be\s+|as\s+)?(a\s+|"
              r"an\s+)?(patient|doctor|nurse|physician|pharmacist)\b"),
    ("fraud", r"\b(fak|feign|fabricat|exaggerat|invent|lie about|lying about)\w*\b.{0,40}\b(to|so|for|"
              r"and)\b.{0,30}\b(get|obtain|receive|qualify|claim|benefits|disability|prescri\w+|compensation|leave|"
              r"payout|drugs)\b|\b(symptoms|illness|injury|disability|pain)\s+(to|i can|i could)\s+(fake|"
              r"feign)\b|\bby (faking|feigning|exaggerating|lying about)\b|\bmak\w*\s+_W_{0,4}(look|seem|"
              r"appear)\s+(worse|sicker|more severe|more (ill|disabled|impaired))\b"),
    # Silence about misconduct, and mistreatment of patients or staff (mockery, threats, coercion).
    ("misconduct", r"\b(not|avoid|without|fail to|failing to|neglect to|refrain from|never)\s+(\w+\s+)?report\w*\b|"
                   r"\bstop\s+_W_{0,3}(from\s+)?report\w*\b|\b(keep quiet|stay silent|remain silent|turn a blind eye|"
                   r"look the other way|cover for|cover up for)\b|\bwithhold\w*\s+_W_{0,3}(information|the truth|"
                   r"diagnos\w+|results|findings|prognosis)\b"),
    ("misconduct", r"\b(mock\w*|belittl\w*|ridicul\w*|humiliat\w*|trivializ\w*|make fun of|making fun of|"
                   r"makes? light of|jokes?\s+(\w+\s+)?about|joke insensitively|insensitive\w*|offensive|rude|"
                   r"demean\w*|condescend\w*|shaming|shames?|stigmati[sz]\w*|impatien\w*|annoyance|harsh terms|"
                   r"scare tactics|intimidat\w*|threaten\w*|blackmail\w*|coerc\w*|sabotag\w*|discredit\w*|"
                   r"guilt[- ]trip\w*|under (the )?threat|threat of)\b"),
    # Practice outside the rules: unapproved, unlicensed, unsterile, illegal, impaired, in unsafe places; and
    # research results bent to look better.
    ("misconduct", r"\b(violat|breach)\w*\s+_W_{0,3}(confidentiality|privacy|hipaa|gdpr|consent|autonomy|rights|"
                   r"laws?|regulations|guidelines|ethic\w*|code of conduct|oath|trust|protocols?|duty)\b"),
    ("misconduct", r"\b(unapproved|unauthori[sz]ed|unlicensed|unregulated|untested|not\s+(yet\s+)?(fda[- ])?approved|"
                   r"non-fda|unqualified|untrained|without (proper |adequate |the |any |prior |necessary |"
                   r"a )?(training|qualifications?|certification|license|sterili[sz]ation|approval|fda approval|"
                   r"regulatory approval|ethic\w* (approval|review)|medical supervision|"
                   r"medical review)|illegal(ly)?|illicit(ly)?|pirated|non-sterile|unsterile|unethical(ly)?|"
                   r"ethically questionable|against (their|his|her) will|"
                   r"bypass\w*\s+_W_{0,3}(regulat\w+|approvals?|protocols?|ethic\w*|review|requirements|oversight|"
                   r"laws?|safety)|circumvent\w*|performance-enhancing)\b"),
    ("misconduct", r"\b(operat\w*|perform\w*|work\w*|treat\w*|see patients|practi[cs]e|deliver\w*|"
                   r"prescrib\w*)\b.{0,40}\b(while|when)\s+(\w+\s+)?(drunk|intoxicated|high|impaired|hungover|"
                   r"on drugs|under the influence)\b|\b(surgery|liposuction|operation|procedure|implant\w*|abortion|"
                   r"botox|fillers?|anesthe\w+|amputation)\b.{0,60}\b(in|at)\s+(my|a|the|our)\s+(garage|basement|"
                   r"kitchen|hotel room|van|back room|bathroom)\b|\b(drop|exclud|remov|delet|hid|omit|leav\w* out|"
                   r"throw\w* out|cherry-?pick|p-?hack|only (enrol|recruit|includ|test)|onl)\w*\b.{0,60}\b(patients|"
                   r"participants|subjects|data|results|outcomes|adverse events|side effects|"
                   r"deaths)\b.{0,60}\b(look\w* (better|good|effective|safe)|significant|"
                   r"show (a |an )?(benefit|effect)|favou?rable|hide)\b"),
    # Care refused to a named group.
    ("discrimination", r"\b(stop (admitting|treating|seeing|accepting)|turn\w* away|refus\w* (to (treat|see|admit|"
                       r"serve|help)|care)|not (to )?(treat|see|admit|serve)|deny\w* (care|treatment|services) to|"
                       r"keep out|refus\w* to (fill|dispense|prescribe|sell|give))\b.{0,60}\b(homeless|undocumented|"
                       r"immigrants?|refugees|transgender|trans (people|patients|person|women|men)|gay|lesbian|black|"
                       r"muslim|jewish|disabled|obese|fat|elderly|old people|poor|medicaid|uninsured|drug users|"
                       r"addicts|hiv|people of colou?r|minorities)\b"),
    # Health misinformation: false claims about medicines and vaccines, campaigns against proven care.
    ("misinformation", r"\b((spread|promot|contribut|creat|generat|writ|produc|post|shar|fuel|foster|"
                       r"based on)\w*\s+_W_{0,3}(misinformation|disinformation)|(using|with|based on|promot\w*|"
                       r"replac\w*|sell\w*|market\w*)\s+_W_{0,3}(pseudoscien\w+|debunked)|false (information|claims?|"
                       r"narrative|rumou?rs?|testimonials?|statistics)|fake (news|endorsements?|"
                       r"testimonials?)|non-?existent (studies|conditions?)|anti-?vax\w*|miracle cure|unfounded|"
                       r"(vaccines?|vaccination|mmr)\s+(cause|causes|causing)\s+autism|"
                       r"(say|stat|claim|argu|tell|post|announc)\w*\s+(that\s+)?(people\s+|parents\s+|"
                       r"patients\s+)?(that\s+)?(hiv|vaccin|chemo|insulin|antibiotic|medication|medicine|fluoride|"
                       r"sunscreen|statin)\w*\s+(\w+\s+)?(is|are|causes?)\s+(a\s+)?(\w+\s+)?(poison|toxic|deadly|"
                       r"hoax|scam|useless|autism|cancer)|(tell|say|post|claim)\w*\b.{0,40}\b(can|should|"
                       r"could)\s+(stop|quit|skip|ditch|replace)\s+(their\s+|your\s+)?(insulin|chemo\w*|medications?|"
                       r"meds|antiretrovirals|hiv medication|treatment|vaccines?|antidepressants)|(flu shots?|"
                       r"vaccines?|jabs?|mmr)\s+(gives?|causes?)\s+(you\s+)?(the\s+)?(flu|covid|autism|cancer|"
                       r"infertility)|(mental illness|depression|adhd|autism|anxiety|addiction)\s+(is|"
                       r"are)\s+(just\s+|only\s+|simply\s+)?(laziness|weakness|a choice|made up|fake|not real|"
                       r"an excuse|attention seeking)|(tell|say|claim|post|convinc|persuad|"
                       r"warn)\w*\b.{0,40}\b(vaccin\w*|chemo\w*|insulin|antibiotics?|medication|prenatal care|"
                       r"screenings?|therapy|treatment)\s+(is|are)\s+(unnecessary|useless|pointless|a scam|poison|"
                       r"a waste of (time|money))|(convinc|persuad|encourag|tell|get|urg|advis)\w*\b.{0,30}\b(not to|"
                       r"to not|never|to skip|to refuse|to avoid|to stop|to quit)\s+(\w+\s+)?(vaccin\w*|"
                       r"immuni[sz]\w*|shots?|jabs?|boosters?|screening|chemo\w*|insulin|treatment|medication|"
                       r"antibiotics|prenatal care|check-?ups?|dialysis)|(convinc|persuad|tell|claim|promot|market|"
                       r"advertis|sell|say|stat|press release|ad|advert)\w*\b.{0,40}\b(cures?|curing|reverses?|"
                       r"prevents?)\s+(cancer|diabetes|hiv|aids|autism))\b|\b(say|saying|claim\w*|advertis\w*|"
                       r"market\w*|promot\w*)\b.{0,60}\b(cures?|reverses?)\s+(\w+\s+)?(disease|cancer|diabetes|hiv|"
                       r"aids|autism|covid|alzheimer\w*|dementia|arthritis|multiple sclerosis|parkinson\w*|"
                       r"infertility|addiction)\b|\b(vaccin\w*|shots?|jabs?|mmr|hpv)\b.{0,20}\b(makes?|causes?|"
                       r"gives?)\s+(\w+\s+)?(infertil\w*|sterile|autism|cancer)\b|\b(advertis|market|sell|offer|"
                       r"promot)\w*\s+_W_{0,3}(stem cells?|ozone|chelation|bleach|mms|homeopath\w*|detox\w*|"
                       r"iv vitamins?)\s+(\w+\s+)?(for|to treat|to cure)\s+(autism|cancer|ms|als|parkinson\w*|"
                       r"alzheimer\w*|dementia|lyme|diabetes|hiv|covid|cerebral palsy|spinal cord)\b|\b(say|saying|"
                       r"claim\w*|tell\w*|post\w*|flyer|ad|article|write)\b.{0,60}\b(autism|cancer|hiv|aids|diabetes|"
                       r"alzheimer\w*|dementia|schizophrenia)\s+(can be|is|are)\s+(cured|reversed)\b|\b(chemo\w*|"
                       r"vaccin\w*|insulin|statins?|antibiotics?|medications?)\s+(kills?|harms?)\s+more\b|\b(hiv|"
                       r"smoking|tobacco|asbestos|hpv|alcohol|sugar)\s+(doesn'?t|does not|don'?t|do not|can'?t|"
                       r"cannot)\s+cause\b|\bvaccin\w*\b.{0,30}\bmore dangerous than\b"),
)]

# Weak signals: words of neglect, unfairness, deception or profit that also occur in honest questions.
WEAK = [(cat, _rx(p)) for cat, p in (
    # Information and care withheld; risks and rules ignored or played down.
    ("misconduct", r"\b(fail(s|ed|ing)? to|not|never|avoid|avoiding|omit\w*|refrain from|without|neglect\w*( to)?|"
                   r"rather than)\s+_W_{0,2}(educat|inform|advis|report|disclos|discuss|address|refer|follow|warn|"
                   r"mention|acknowledg|engag|advocat|correct|tell|shar|explain|offer|ensur|consider|investigat|"
                   r"obtain|requir|involv|speak|regard|support|reassur|comfort|empath|listen)\w*"),
    ("misconduct", r"\b(ignor\w*|disregard\w*|overlook\w*|dismiss\w*|neglect\w*|downplay\w*|understat\w*|overstat\w*|"
                   r"exaggerat\w*|overpromis\w*|misrepresent\w*|trivial\w*|skip\w*|suppress\w*|undermin\w*|hinder\w*|"
                   r"infring\w*|contradict\w*|minimi[sz]\w*)\s+_W_{0,5}(risks?|side effects?|complications?|safety|"
                   r"guidelines?|protocols?|regulat\w+|laws?|rules|ethic\w*|evidence|concerns|complaints|efficacy|"
                   r"benefits|symptoms|outcomes|adverse|reactions?|allerg\w+|infection|sterili[sz]\w+|sanitary|needs|"
                   r"well-?being|fears?|quarantine|contraindications?|warnings?|importance|significance|advice|"
                   r"advisories|health|medical need|clinical|findings|research|follow-?up|appointments?|patients?|"
                   r"population|efforts|rights|mobility|constraints|latest|measures|incompetence|misconduct|"
                   r"impairment|diagnos\w+|wishes|preferences|autonomy|dignity|privacy|confidentiality|beliefs|"
                   r"culture|values)\b|\bhid(e|es|ing)\s+(the fact\s+)?that\b|\blonger than (needed|"
                   r"necessary)\b|\b(discharg\w*|dump\w*)\s+_W_{0,3}(early|"
                   r"prematurely)\b|\bsomeone else'?s problem\b|\bpatient dumping\b|\bso (she|he|they)\s+(keeps?|"
                   r"continues?)\s+(buying|paying|coming)\b|\bkeep\w*\s+_W_{0,3}(patients|people|"
                   r"residents)\s+from\s+(booking|seeing|getting|accessing|using|coming|visiting|registering|"
                   r"enrolling)\b|\b(test\w*|experiment\w*|enrol\w*)\b.{0,60}\b(who|that)\s+(can'?t|cannot|"
                   r"are unable to|couldn'?t)\s+(consent|understand|say no|refuse)\b|\btell\w*\s+(them|him|her|"
                   r"patients?|the patient)\b.{0,30}\b(it'?s|it is|it was|they'?re)\s+(already\s+)?(approved|proven|"
                   r"tested)\b|\b(placebo|control) (group|arm)\b.{0,40}\b(doesn'?t|don'?t|won'?t|not|no)\s+(get|"
                   r"receive)\b|\bignor\w*\s+(\w+\s+)?call bells\b|\b(cut|"
                   r"cutting) corners\b|\bagainst (the\s+)?(patient'?s?|their|his|her) (wishes|will|best interests?|"
                   r"consent|values)\b|\bwithout (proper|adequate|appropriate|sufficient|"
                   r"necessary)\s+\w+|\b(recklessly|negligently)\b|\bpersonal (gain|benefit|profit|interest|"
                   r"convenience|beliefs|bias)\b"),
    ("misconduct", r"\b(mislead\w*|deceiv\w*|deceptive\w*|dishonest\w*|misdiagnos\w*|under-?diagnos\w*|"
                   r"misinterpret\w*|selectively|biased|confus\w+ (them|patients?|the patient)|jargon to|"
                   r"guarantee\w* (results|cure|success)|non-?disclosure|as trivial|unnecessar\w*|unneeded|needless|"
                   r"quietly|subtl[ey]|(drill|remov|extract|operat|cut|amputat)\w*\s+(\w+\s+)?healthy\s+(teeth|tooth|"
                   r"tissue|organs?|limbs?)|so (they|he|she|patients) (go|"
                   r"goes) elsewhere|inappropriate(ly)?|over-?prescrib\w*|overuse|over-?medicat\w*|"
                   r"higher doses?\b.{0,30}\bthan recommended|(use|uses|using) fear|less effective|makeshift|"
                   r"prematurely|no breaks|unsafe|unhealthy|dangerous levels|knowingly|known to cause|"
                   r"known (severe |serious |harmful )?(side effects|risks|adverse)|(navigate|get|work) around|"
                   r"loopholes?|not intended by|not (be )?medically necessary|"
                   r"(showing|with|has|having) no (signs|symptoms|evidence|indication)|"
                   r"without (a |an |any |prior |proper )?_W_{0,2}(deficiency|diagnosis|indication|imaging|matching|"
                   r"compatibility|work-?up|evaluation|assessment|examination|medical (reason|need|condition)))"),
    ("misconduct", r"\b(rather than|instead of|at the expense of|regardless of|despite|even if|ignoring|overlooking|"
                   r"disregarding|without regard (to|for)|not on|without considering|in favou?r of)\s+(the\s+|"
                   r"their\s+|its\s+|a\s+|an\s+|his\s+|her\s+)?_W_{0,3}(patients?'?|medical need|clinical|safety|"
                   r"evidence|effectiveness|efficacy|well-?being|guidance|values|investigation|empath\w*|quality|"
                   r"risks?|concerns|consequences|health|needs|benefit|necessity|urgency|indications?|outcomes|"
                   r"genuine|scientific|legitimate|proven|established|generic|"
                   r"unstable)\b|\bover\s+(direct\s+)?(patient|clinical|medical|thorough)\s+(care|safety|needs?|"
                   r"benefit|investigation)\b|\bregardless of\b|\beven (if|though) (it|they) (means?|could|might|"
                   r"risks?)\b|\beven (if|though)\b.{0,40}\b(suffer\w*|harm\w*|unsafe|worse|die|dies|"
                   r"death)\b|\bagainst _W_{0,2}(guidelines|evidence|protocols?|recommendations)\b|\bcontrary to\b"),
    # Staff forced into unsafe or unethical work; patients pressured.
    ("misconduct", r"\b(" + _PROFESSIONAL + r")\s+be\s+(forced|mandated|compelled|pressured|made|required|obliged|"
                   r"obligated|directed|coerced)\s+to\b|\b(forc|compel|mandat|pressur|"
                   r"obligat)\w*\s+(the\s+)?(physicians?|doctors?|nurses|staff|surgeons|clinicians|employees|"
                   r"them)\b|\bagainst (their|the physician'?s?|his|her) (will|comfort|assessment|ethic\w*|beliefs|"
                   r"moral\w*)|\bconflicts? with their\b|\bshould not (be allowed to )?(join|voice|report|advocate|"
                   r"unioni[sz]e|speak|be informed|be told|receive)\b|\bpressur\w*\s+_W_{0,2}(patients?|parents|"
                   r"families|participants|someone|people|them)\s+(into|to)\b"),
    # Care bent toward money or convenience.
    ("misconduct", r"\b(for|to (increase|boost|maximi[sz]e|inflate|generate|benefit from|enhance))\s+_W_{0,2}(gain|"
                   r"profit|revenue|income|billing|sales|reimbursements?|payments|rebates|convenience|loyalty|"
                   r"public image|reputation|patient load)\b|\bprofit\w*|\blucrative\b|\bfinancial(ly)?\s+(gain|"
                   r"interest|benefits?)\b|\bbenefits?\s+(\w+\s+)?financially\b|\bto (save|cut) (time|costs?|"
                   r"money)\b|\bthan (labell?ed|approved|recommended|indicated)\b|\bcost-(saving|efficiency|"
                   r"cutting)\b|\bto free up beds\b|\b(for|purposes? of)\s+(the\s+)?(sole\s+)?(purpose of\s+)?(bodybu"
                   r"ilding|cognitive enhancement|performance enhancement|aesthetic reasons|convenience|"
                   r"experimental purposes)\b|\bhigher (reimbursements?|payments|margins?|fees)\b|\bmore profitable\b"),
    # Unequal care by wealth, insurance, identity or status.
    ("discrimination", r"\b(prioriti[sz]\w*|deprioriti[sz]\w*|preferential|faster|quicker|exclusive\w*|only|solely|"
                       r"deny\w*|exclud\w*|turn\w* away|limit\w*|restrict\w*|withhold\w*|selective\w*|based on|"
                       r"tiered|discourag\w*|low priority|(higher|longer) wait|justif\w*|allocat\w*|charg\w*|skip\w*|"
                       r"ignor\w*)\b.{0,100}\b(high-income|low-income|wealthy|rich|"
                       r"private(ly)?[- ](paying|insured|health coverage|coverage|payers?|insurance)|premium|"
                       r"paying more|higher incomes?|income|insurance (status|coverage|holders)|"
                       r"(ability|inability) to pay|can'?t pay|pay (upfront|out of pocket)|uninsured|"
                       r"without (adequate |private |health |dental )?(insurance|coverage|medicare|medicaid)|"
                       r"lack (\w+\s+)?insurance|medicare|medicaid|social (status|standing)|"
                       r"financial (status|contributions|resources)|celebrity|high-profile|elite|"
                       r"social media influence|friends and family|race|racial|ethnic\w*|religio\w+|"
                       r"poor (neighbou?rhoods|areas|people|patients|families)|sexual orientation|gender identity|"
                       r"criminal history|history of (substance abuse|mental health|non-compliance)|"
                       r"mental health (conditions|issues)|expatriates|certain _W_{0,2}(groups|profiles|demographics|"
                       r"populations|age))\b"),
    ("discrimination", r"\brefus\w*\s+(to\s+)?(treat|see|serve|provide|offer|admit|prescribe|refer|perform|accept|"
                       r"care for|acknowledge)\b|\brefus\w*\s+_W_{0,4}(to|for)\s+(patients|individuals|people|those|"
                       r"children|elderly|anyone|members)\b|\brefus\w*\s+(\w+\s+)?patients\b|\b(deny|"
                       r"denying)\s+_W_{0,3}(to\s+)?(patients|individuals|people|them|those|elderly|"
                       r"children)\b|\bturn\w* away\b|\b(limit\w*|restrict\w*)\s+access\b|\bdiscrimina\w*|"
                       r"\bdiscourag\w*\s+_W_{0,4}from\s+(seeking|getting|receiving|asking|participat\w*|following|"
                       r"choosing|accessing|pursuing|booking|coming|visiting|registering|enrolling|attending|"
                       r"applying|returning)\b|\bdissuad\w*|\b(as\s+|be\s+)(low|"
                       r"lower) priority\b|\bdeprioriti[sz]\w*|\b(keep|filter|screen|"
                       r"weed)\w*\s+(\w+\s+){0,3}(patients|applicants|people|those|anyone|residents|"
                       r"students)\s+out\b|\b(keep|filter|screen|weed)\w*\s+out\s+(\w+\s+){0,2}(patients|applicants|"
                       r"people|those|anyone)\b"),
    # Patients' health information told to the public, an employer, the press.
    ("privacy", r"\b(reveal|disclos|divulg|share|sharing|leak|expos|discuss|publish|post|tell|"
                r"interrogat)\w*\b.{0,80}\b(with other (parents|patients|people)|public(ly)?|social media|blog|forum|"
                r"workplace|employer|media|seminar|community group|magazines?|newspapers?|tabloids?|the press|"
                r"reporters?)\b|\b(sell|leak|publish|post|share|disclose|reveal)\w*\b.{0,30}\b(her|his|"
                r"their)\s+(medical|health|psychiatric|hiv|genetic|test)\s+(\w+\s+)?(details|records?|information|"
                r"data|history|results|status)\b"),
    # Public-health harm: campaigns against proven measures, unproven cures, marketing harm to the young.
    ("misinformation", r"\b(unproven|untested|no proven value|without (any\s+)?(scientific|clinical|peer)|"
                       r"no scientific (basis|backing)|(argu\w*|advocat\w*|campaign\w*|advis\w*|promot\w*)\s+against|"
                       r"promot\w*\s+_W_{0,3}(unrealistic|unsafe|unhealthy|tobacco|smoking|avoiding)|"
                       r"(market\w*|advertis\w*|sell\w*)\s+_W_{0,3}(tobacco|cigarettes|vapes?|alcohol)|"
                       r"encourag\w*\s+_W_{0,3}(unsafe|unhealthy|dangerous|risky|misuse|abuse)|universal remedy|"
                       r"discourag\w*\s+_W_{0,3}(vaccin\w*|immuni[sz]\w*|flu shots?|screenings?|treatment|the use of|"
                       r"public health))\b"),
)]
