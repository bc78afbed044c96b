//! The words a shop's customers use for the same thing, so a message finds its entry when the
//! entry's phrasings say it another way: English synonyms (mend → repair, courier → deliver),
//! an item read as its category (synthesizer → keyboard), Swahili and Sheng words (duka → shop),
//! two words that mean one thing (boxing day → holiday, payment plan → instalment), and Swahili
//! verb roots, which a customer writes with any subject, tense, object or negation prefix
//! (tengenez-: mnatengeneza, kuitengeneza, hawatengenezi → repair), the Sheng habitual
//! (mnaletaga) and, after a long root, the applicative ending (shughulikia). Written per concept
//! of a shop (repairs, delivery, payment, instalments, where, when, each kind of instrument with
//! its makes and models), not per example (issue 29).
//!
//! Besides what words mean, it knows the words that name a question of their own (a price,
//! lessons, a refund: SHIPPED_TOPICS), which an entry must have to answer; places in Kenya
//! (PLACES), which set a question's scene; and the thanks that close a message (CLOSINGS).
//!
//! The shipped lexicon below is every shop's; a tenant adds words of its own
//! (bot_control_settings.faq_synonyms), which win over the shipped ones; a key of two words
//! separated by a space is a phrase ("lay by": "instalment"); a meaning written
//! "+kind" makes the word an item of that kind ("cello": "+instrument"), read as itself and,
//! a little less, as its kind (SHIPPED_KINDS). Entries and messages go through the same
//! lexicon, so a phrasing "mnatengeneza gitaa" and a message "mnaweza kuitengeneza gitaa
//! yangu?" meet at "repair guitar".
use std::cell::RefCell;
use std::collections::HashMap;

/// Words that mean another word, for every shop (English, Swahili, Sheng). Kept to words whose
/// meaning does not depend on the shop: a word that means two things in a shop is left out.
const SHIPPED_WORDS: &[(&str, &str)] = &[
    // Repairs
    ("fix", "repair"),
    ("mend", "repair"),
    ("broken", "broken"),
    ("cracked", "broken"),
    ("damaged", "broken"),
    ("spoilt", "broken"),
    ("spoiled", "broken"),
    ("faulty", "broken"),
    ("repairs", "repair"),
    // Delivery
    ("delivery", "deliver"),
    ("deliveries", "deliver"),
    ("ship", "deliver"),
    ("shipping", "deliver"),
    ("shipment", "deliver"),
    ("courier", "deliver"),
    ("send", "deliver"),
    ("dispatch", "deliver"),
    ("doorstep", "deliver"),
    ("transport", "deliver"),
    ("post", "deliver"),
    // Payment
    ("payment", "pay"),
    ("option", "method"),
    ("options", "method"),
    ("mode", "method"),
    ("modes", "method"),
    ("visa", "card"),
    ("mastercard", "card"),
    ("debit", "card"),
    ("mpesa", "pesa"),
    ("installment", "instalment"),
    ("installments", "instalment"),
    ("instalments", "instalment"),
    ("deposit", "instalment"),
    ("balance", "instalment"),
    // Where the shop is
    ("address", "location"),
    ("located", "location"),
    ("situated", "location"),
    ("street", "location"),
    ("road", "location"),
    ("building", "location"),
    ("direction", "location"),
    ("directions", "location"),
    ("area", "location"),
    ("store", "shop"),
    ("stock", "sell"),
    ("duka", "shop"),
    ("dukani", "shop"),
    ("settle", "pay"),
    ("monthly", "month"),
    ("mwezi", "month"),
    ("miezi", "month"),
    ("weekly", "instalment"),
    ("layaway", "instalment"),
    // Where the shop is
    ("pin", "location"),
    ("jengo", "location"),
    ("ofisi", "shop"),
    // When it is open: "saa" is the Swahili clock ("saa ngapi": what time)
    ("timing", "hour"),
    ("schedule", "hour"),
    ("timetable", "hour"),
    ("ratiba", "hour"),
    ("timings", "hour"),
    ("wazi", "open"),
    ("saa", "time"),
    ("operating", "open"),
    ("operational", "open"),
    ("operate", "open"),
    ("shut", "close"),
    ("closing", "close"),
    ("closed", "close"),
    ("closes", "close"),
    ("jumatatu", "monday"),
    ("jumanne", "tuesday"),
    ("jumatano", "wednesday"),
    ("alhamisi", "thursday"),
    ("ijumaa", "friday"),
    ("jumamosi", "saturday"),
    ("jumapili", "sunday"),
    ("sikukuu", "holiday"),
    ("siku", "day"),
    ("wikendi", "weekend"),
    // Delivery ("bring" said of "I" is the customer coming: text.rs)
    ("bring", "deliver"),
    ("rider", "deliver"),
    ("g4s", "deliver"),
    // Items read as their category
    ("gitaa", "guitar"),
    ("gita", "guitar"),
    ("classical", "guitar"),
    // Not the ukulele: shops sell it as an item of its own, and an owner's entry about ukuleles
    // must not tie with the guitars' (an item read as its category replaces the word).
    ("piano", "keyboard"),
    ("pianos", "keyboard"),
    ("kinanda", "keyboard"),
    ("synth", "keyboard"),
    ("synthesizer", "keyboard"),
    ("amp", "amplifier"),
    ("amps", "amplifier"),
    // Swahili and Sheng
    // "How" after a verb (nalipa aje, nitawapata aje), not the greeting "vipi"
    ("aje", "how"),
    ("asanteni", "asante"),
    ("naeza", "can"),
    // "Is at", agreeing with any noun in Swahili, with every noun in Sheng (duka iko wapi)
    ("liko", "iko"),
    ("ziko", "iko"),
    ("yuko", "iko"),
    ("kiko", "iko"),
    ("viko", "iko"),
    ("dijitali", "digital"),
    ("nitawezaje", "how"),
    ("mna", "carry"),
    // "Do you offer delivery?" asks whether the shop has it, like "do you have"
    ("offer", "carry"),
    ("natafuta", "carry"),
    ("stuck", "broken"),
    ("crackling", "broken"),
    ("dead", "broken"),
    ("mnayo", "carry"),
    ("mnazo", "carry"),
    ("kuna", "carry"),
    // Repairs, more ways to say it (a tune-up, a restring and a set-up are a repair's work)
    ("fixing", "repair"),
    ("fixed", "repair"),
    ("mending", "repair"),
    ("repairing", "repair"),
    ("servicing", "repair"),
    ("tune", "repair"),
    ("tuning", "repair"),
    ("restring", "repair"),
    ("restringing", "repair"),
    ("setup", "repair"),
    ("fundi", "repair"),
    ("technician", "repair"),
    ("mbovu", "broken"),
    ("replace", "repair"),
    ("refurbish", "repair"),
    ("restore", "repair"),
    ("replacement", "repair"),
    ("torn", "broken"),
    ("loose", "broken"),
    ("broke", "broken"),
    ("snapped", "broken"),
    ("burst", "broken"),
    // Delivery, more ways to say it: who carries it and how it travels
    ("parcel", "deliver"),
    ("parcels", "deliver"),
    ("boda", "deliver"),
    ("bodaboda", "deliver"),
    ("riders", "deliver"),
    ("couriers", "deliver"),
    ("shipped", "deliver"),
    ("ships", "deliver"),
    ("sendy", "deliver"),
    ("upcountry", "countrywide"),
    ("nationwide", "countrywide"),
    ("mzigo", "deliver"),
    ("mizigo", "deliver"),
    // Payment: card brands, cash, banks and mobile money
    ("amex", "card"),
    ("cards", "card"),
    ("taslimu", "cash"),
    ("kadi", "card"),
    ("benki", "method"),
    // Other ways to pay: a payment method ("payment methods")
    ("bank", "method"),
    ("transfer", "method"),
    ("eft", "method"),
    ("rtgs", "method"),
    ("cheque", "method"),
    ("cheques", "method"),
    ("malipo", "pay"),
    ("airtel", "pesa"),
    // Instalments: paying part now and the rest later
    ("awamu", "instalment"),
    ("layby", "instalment"),
    ("instalment", "instalment"),
    ("spread", "instalment"),
    ("deposits", "instalment"),
    // Where the shop is: what a customer looks it up by
    ("mtaa", "location"),
    ("near", "location"),
    ("nearest", "location"),
    ("nearby", "location"),
    ("upande", "location"),
    ("landmark", "location"),
    ("landmarks", "location"),
    ("map", "location"),
    ("maps", "location"),
    ("floor", "location"),
    ("plaza", "location"),
    ("mall", "location"),
    ("avenue", "location"),
    ("locate", "location"),
    ("wapi", "where"),
    // When it is open
    ("late", "time"),
    ("early", "time"),
    ("mapema", "time"),
    ("opened", "open"),
    ("opens", "open"),
    ("holidays", "holiday"),
    ("christmas", "holiday"),
    ("xmas", "holiday"),
    ("easter", "holiday"),
    ("krismasi", "holiday"),
    ("pasaka", "holiday"),
    // Today, tomorrow, now: a day the customer asks about
    ("leo", "today"),
    ("now", "today"),
    ("tonight", "today"),
    ("tomorrow", "today"),
    ("kesho", "today"),
    // Keyboards and pianos by their other names
    ("keyboards", "keyboard"),
    ("vinanda", "keyboard"),
    ("organ", "keyboard"),
    ("organs", "keyboard"),
    ("synths", "keyboard"),
    ("synthesizers", "keyboard"),
    ("guitars", "guitar"),
    ("magitaa", "guitar"),
    // Topics of questions of their own (SHIPPED_TOPICS): what a thing costs, lessons, hire,
    // returns, warranties, discounts, jobs, an order on its way, advice on what to choose
    ("price", "price"),
    ("prices", "price"),
    ("pricing", "price"),
    ("cost", "price"),
    ("costs", "price"),
    ("fee", "price"),
    ("fees", "price"),
    ("charge", "price"),
    ("charges", "price"),
    ("bei", "price"),
    ("gharama", "price"),
    ("expensive", "price"),
    ("cheap", "price"),
    ("cheaper", "price"),
    ("lesson", "lesson"),
    ("lessons", "lesson"),
    ("class", "lesson"),
    ("classes", "lesson"),
    ("teach", "lesson"),
    ("teacher", "lesson"),
    ("tutor", "lesson"),
    ("tuition", "lesson"),
    ("learn", "lesson"),
    ("school", "lesson"),
    ("masomo", "lesson"),
    ("somo", "lesson"),
    ("darasa", "lesson"),
    ("rent", "rent"),
    ("rental", "rent"),
    ("hire", "rent"),
    ("lease", "rent"),
    ("refund", "return"),
    ("refunds", "return"),
    ("return", "return"),
    ("returns", "return"),
    ("exchange", "return"),
    ("warranty", "warranty"),
    ("guarantee", "warranty"),
    ("dhamana", "warranty"),
    ("discount", "discount"),
    ("offers", "discount"),
    ("promotion", "discount"),
    ("promo", "discount"),
    ("sale", "discount"),
    ("try", "trial"),
    ("test", "trial"),
    ("jaribu", "trial"),
    ("discounts", "discount"),
    ("punguzo", "discount"),
    ("job", "job"),
    ("jobs", "job"),
    ("vacancy", "job"),
    ("hiring", "job"),
    ("arrive", "arrive"),
    ("arrived", "arrive"),
    ("ready", "arrive"),
    ("reach", "arrive"),
    ("best", "advice"),
    ("better", "advice"),
    ("recommend", "advice"),
    ("recommendation", "advice"),
    ("suggest", "advice"),
    ("advice", "advice"),
    ("advise", "advice"),
    ("difference", "advice"),
    ("compare", "advice"),
    ("vs", "advice"),
    ("versus", "advice"),
    ("receipt", "receipt"),
    ("receipts", "receipt"),
    ("risiti", "receipt"),
    ("invoice", "receipt"),
    ("invoices", "receipt"),
    ("quotation", "price"),
    ("quote", "price"),
    ("import", "origin"),
    ("imported", "origin"),
    ("original", "origin"),
    ("genuine", "origin"),
    ("fake", "origin"),
    ("used", "used"),
    ("secondhand", "used"),
    ("preowned", "used"),
    ("mitumba", "used"),
    ("feature", "feature"),
    ("features", "feature"),
    ("specs", "feature"),
    ("specifications", "feature"),
    ("bluetooth", "feature"),
    ("usb", "feature"),
    ("battery", "feature"),
    ("concert", "event"),
    ("concerts", "event"),
    ("festival", "event"),
    ("event", "event"),
    ("events", "event"),
    ("workshop", "event"),
    ("park", "park"),
    ("parking", "park"),
    ("pick up", "collect"),
    ("collect", "collect"),
    ("collection", "collect"),
];

/// Two words that together mean one thing, for every shop: read as that word, in place of both.
const SHIPPED_PHRASES: &[(&str, &str)] = &[
    ("boxing day", "holiday"),
    ("payment plan", "instalment"),
    ("payment plans", "instalment"),
    ("hire purchase", "instalment"),
    ("courier service", "deliver"),
    ("courier services", "deliver"),
    ("get to", "find"),
    // "Send me your paybill, the location, a photo": share it (not a delivery).
    ("send me", "share"),
    ("drum kit", "drum"),
    ("drum kits", "drum"),
    ("drum set", "drum"),
    ("drum sets", "drum"),
    ("set up", "repair"),
    ("look at", "repair"),
    ("public holiday", "holiday"),
    ("public holidays", "holiday"),
    ("google maps", "location"),
    ("how late", "time"),
    ("pesa taslimu", "cash"),
    ("lay by", "instalment"),
    ("on credit", "instalment"),
    ("credit card", "card"),
    ("new year", "holiday"),
    ("upper hill", "upperhill"),
    ("south b", "southb"),
    ("south c", "southc"),
    ("pole pole", "instalment"),
    ("polepole", "instalment"),
    ("kidogo kidogo", "instalment"),
    ("mdogo mdogo", "instalment"),
    ("part payment", "instalment"),
    ("bit by", "instalment"),
    ("little by", "instalment"),
    ("in parts", "instalment"),
    ("part payments", "instalment"),
    ("how much", "price"),
    ("pesa ngapi", "price"),
    ("doh ngapi", "price"),
    ("ganji ngapi", "price"),
    ("chapaa ngapi", "price"),
    ("in stock", "availability"),
    // "Do you have" (rank.rs reads it as "do you sell" unless what is had is a service an
    // entry names: "do you have payment plans?")
    ("you have", "carry"),
    ("u have", "carry"),
    ("mko na", "carry"),
    // An offer had, not offered: "any offer on guitars?" asks for a discount
    ("any offer", "discount"),
    ("an offer", "discount"),
    ("black friday", "discount"),
    ("cyber monday", "discount"),
    ("looking for", "carry"),
    ("searching for", "carry"),
    ("not working", "broken"),
    ("stopped working", "broken"),
    ("sort out", "repair"),
    ("how long", "duration"),
    ("till when", "time"),
    ("till what", "time"),
    ("until when", "time"),
    ("until what", "time"),
    ("close to", "location"),
    ("karibu na", "location"),
    ("easy coach", "deliver"),
    ("wells fargo", "deliver"),
    // The customer's own order on its way (not "can I order a guitar")
    ("my order", "arrive"),
    // A job done or not yet: "has my guitar been fixed?", "mmemaliza?"
    ("been fixed", "arrive"),
    ("been repaired", "arrive"),
    ("been delivered", "arrive"),
    ("been sent", "arrive"),
    ("be ready", "arrive"),
    ("our order", "arrive"),
    ("my delivery", "arrive"),
    ("my parcel", "arrive"),
    ("my package", "arrive"),
    ("oda yangu", "arrive"),
    ("mzigo wangu", "arrive"),
    ("mzigo yangu", "arrive"),
    ("second hand", "used"),
    ("wa pili", "used"),
    ("digital piano", "keyboard"),
    ("digital pianos", "keyboard"),
    ("stage piano", "keyboard"),
    ("electric piano", "keyboard"),
    ("electric pianos", "keyboard"),
    ("acoustic piano", "keyboard"),
    ("acoustic pianos", "keyboard"),
    ("stage pianos", "keyboard"),
];

/// A specific item read also as the kind of thing it is, so "do you repair drum kits?" finds
/// the entry about repairing instruments and "Korg synthesizers" the keyboards. Unlike
/// SHIPPED_WORDS the word keeps its own meaning: an entry about drums still fits drums best.
/// Brands only where they make one kind of instrument (not Yamaha or Roland).
const SHIPPED_KINDS: &[(&str, &str)] = &[
    // A holiday or the weekend is a day: "are you open on boxing day?" asks what "mnafanya kazi
    // siku gani?" (which days) asks. (Not the days of the week: entries name them, and an
    // answer's "next day" is no answer to "open on Saturday?")
    ("weekend", "day"),
    ("holiday", "day"),
    ("guitar", "instrument"),
    ("keyboard", "instrument"),
    ("drum", "instrument"),
    ("cajon", "instrument"),
    ("amplifier", "instrument"),
    ("violin", "instrument"),
    ("saxophone", "instrument"),
    ("trumpet", "instrument"),
    ("flute", "instrument"),
    ("ukulele", "instrument"),
    ("fender", "guitar"),
    ("gibson", "guitar"),
    ("ibanez", "guitar"),
    ("epiphone", "guitar"),
    ("squier", "guitar"),
    ("nylon", "guitar"),
    ("casio", "keyboard"),
    ("korg", "keyboard"),
    ("nord", "keyboard"),
    ("kurzweil", "keyboard"),
    // Guitars by kind, make and model
    ("bass", "guitar"),
    ("acoustic", "guitar"),
    ("electric", "guitar"),
    ("electroacoustic", "guitar"),
    ("dreadnought", "guitar"),
    ("cort", "guitar"),
    ("takamine", "guitar"),
    ("gretsch", "guitar"),
    ("schecter", "guitar"),
    ("washburn", "guitar"),
    ("rickenbacker", "guitar"),
    ("godin", "guitar"),
    ("stratocaster", "guitar"),
    ("strat", "guitar"),
    ("telecaster", "guitar"),
    ("jazzmaster", "guitar"),
    // Keyboards and pianos by make and model
    ("kawai", "keyboard"),
    ("medeli", "keyboard"),
    ("psr", "keyboard"),
    ("ct", "keyboard"),
    ("ydp", "keyboard"),
    ("cdp", "keyboard"),
    ("clavinova", "keyboard"),
    ("arius", "keyboard"),
    ("privia", "keyboard"),
    ("casiotone", "keyboard"),
    ("juno", "keyboard"),
    ("fantom", "keyboard"),
    ("genos", "keyboard"),
    ("tyros", "keyboard"),
    ("kronos", "keyboard"),
    // Drums by make
    ("pearl", "drum"),
    ("tama", "drum"),
    ("mapex", "drum"),
    ("ludwig", "drum"),
    ("cymbal", "drum"),
    ("snare", "drum"),
    // Other instruments (not sound equipment: a shop that repairs instruments may not repair
    // microphones, and its entries name them if it does)
    ("cello", "instrument"),
    ("harp", "instrument"),
    ("banjo", "instrument"),
    ("mandolin", "instrument"),
    ("clarinet", "instrument"),
    ("trombone", "instrument"),
    ("harmonica", "instrument"),
    ("accordion", "instrument"),
];

/// Words (as the matcher reads them) that name a question of their own, which a shop answers
/// with an entry about it or not at all: what a thing costs, lessons, hire, returns, warranties,
/// discounts, jobs, an order on its way, whether one item is in stock, advice, where the goods
/// come from, second-hand goods, the shop buying from a customer, receipts and invoices, an
/// item's features, events, how long something takes, parking, collecting a thing, trying one
/// out, what the customer did (DONE). A message that names one is answered only by an entry
/// that has the word (Faq::answer): "do you teach guitar?" is not answered by the guitars'
/// entry, "how much is delivery?" is by the deliveries' entry whose answer gives its fees.
#[rustfmt::skip]
pub const SHIPPED_TOPICS: &[&str] = &[
    "price", "lesson", "rent", "return", "warranty", "discount", "job", "arrive", "duration",
    "park", "collect", "availability", "advice", "origin", "receipt", "feature", "event", "trial",
    "used", "buy", DONE,
];

/// Swahili verb roots (and English verbs Sheng conjugates the Swahili way: mnadeliver), with
/// what they mean. A word is the root with prefixes before it and an ending after it.
const SHIPPED_ROOTS: &[(&str, &str)] = &[
    ("tengenez", "repair"),
    ("rekebish", "repair"),
    ("haribik", "broken"),
    ("vunjik", "broken"),
    ("fungu", "open"),
    ("fung", "close"),
    ("let", "deliver"),
    ("tum", "deliver"),
    ("pelek", "deliver"),
    ("fikish", "deliver"),
    ("deliver", "deliver"),
    ("repair", "repair"),
    ("lip", "pay"),
    ("uz", "sell"),
    ("kubal", "accept"),
    ("chuku", "take"),
    ("ruhus", "accept"),
    // pata is "get" (kupata keyboard: to get one), patikana "be found" (mnapatikana wapi)
    ("pat", "get"),
    ("patikan", "find"),
    ("wez", "can"),
    ("fany", "do"),
    ("shughulik", "handle"),
    ("saidi", "help"),
    ("fundish", "lesson"),
    ("jifunz", "lesson"),
    ("kodish", "rent"),
    ("rudish", "return"),
    ("ajir", "job"),
    ("pokel", "arrive"),
    ("maliz", "finish"),
];

/// What may come before a Swahili verb root: negation (ha-, si-), subject (ni-, u-, a-, tu-, m-,
/// wa-, ...), tense (-na-, -li-, -ta-, -me-, ...), object (-ni-, -ku-, -i-, -zi-, ...), or the
/// infinitive ku-; written together, in any number up to four.
#[rustfmt::skip]
const VERB_PREFIXES: &[&str] = &[
    "ha", "hu", "si", "ni", "n", "u", "a", "tu", "m", "mu", "mw", "wa", "i", "zi", "ki", "vi",
    "li", "ya", "ku", "kw", "na", "ta", "me", "nge", "ka", "ja", "sha", "ji",
];

/// What may end a Swahili verb: the final vowel, the passive (-wa, -iwa, -ewa) and causative
/// (-isha, -esha) forms, and -je ("how": nitalipaje, nawezaje). Not the applicative (-ia: tumia is "use", not "send"). No ending: an
/// English verb in Sheng (mnadeliver), for roots of at least ENGLISH_ROOT_LEN letters.
#[rustfmt::skip]
const VERB_ENDINGS: &[&str] = &[
    "", "a", "e", "i", "wa", "iwa", "ewa", "isha", "esha", "ishwa", "eshwa", "ika", "eka",
    "eni", "aje", "eje", "aga", "anga", "ega", "enga", "ishaga", "eshaga",
];

/// A root this long may stand without an ending (a shorter one would be too easy to find), and
/// take the applicative endings (APPLICATIVE_ENDINGS).
const ENGLISH_ROOT_LEN: usize = 5;

/// The applicative (doing for or about: shughulikia, deal with; rekebishia, repair for), only
/// after a long root or an object (OBJECT_INFIXES): on a short one alone it makes another verb
/// (tumia is "use", not "send").
const APPLICATIVE_ENDINGS: &[&str] = &["ia", "ea", "iwa", "ewa", "ie", "ee"];

/// Greetings, politeness and forms of address: before a question they say nothing about it.
/// Said alone they are the message (the canned "Hello" answers them).
#[rustfmt::skip]
const GREETINGS: &[&str] = &[
    "hi", "hello", "hey", "hallo", "helo", "hae", "habari", "mambo", "niaje", "sasa", "vipi",
    "salaam", "salam", "sema", "jambo", "hujambo", "shikamoo", "good", "morning", "afternoon",
    "evening", "day", "asubuhi", "mchana", "jioni", "yako", "yenu", "poa", "fiti", "ok", "okay",
    "dear", "sir", "madam", "boss", "bro", "buda", "msee", "guys", "team", "there", "quick",
    "one", "question", "swali", "moja", "cheers", "msee", "mzee", "mkuu", "chief",
    "fam", "bana", "manze", "wasee", "please", "pls", "plz", "tafadhali", "kindly",
];

/// Thanks and politeness that close a message: after a question they say nothing about it
/// ("how late are you open on Fridays, thanks"); before anything else they are the message
/// ("Thanks, I'll pass by on Saturday" thanks), so they are not greetings.
#[rustfmt::skip]
const CLOSINGS: &[&str] = &[
    "thanks", "thank", "thanx", "thx", "asante", "asanteni", "shukran", "shukrani", "regards",
    "blessings", "mbarikiwe", "advance",
];

/// Places in Kenya customers name (counties, towns, Nairobi's estates and roads): where they
/// are, or where a thing should go. An entry may name one (its answer's "Nairobi"); else a place
/// weighs less than other words no entry has (rank.rs, PLACE_WEIGHT).
#[rustfmt::skip]
const PLACES: &[&str] = &[
    // Counties and their towns
    "mombasa", "kwale", "kilifi", "malindi", "lamu", "garissa", "wajir", "mandera", "marsabit",
    "isiolo", "meru", "embu", "kitui", "machakos", "makueni", "nyandarua", "nyeri", "kirinyaga",
    "muranga", "kiambu", "turkana", "lodwar", "samburu", "eldoret", "kitale", "kericho", "bomet",
    "kakamega", "vihiga", "bungoma", "busia", "siaya", "kisumu", "homabay", "migori", "kisii",
    "nyamira", "nairobi", "nakuru", "naivasha", "narok", "kajiado", "nanyuki", "laikipia",
    "nyahururu", "thika", "voi", "kakuma", "baringo", "kabarak", "kerugoya", "karatina",
    "ruiru", "juja", "limuru", "kikuyu", "athi", "kitengela", "ngong", "rongai", "syokimau",
    "mlolongo", "kiserian", "ongata",
    // Nairobi's estates and areas
    "westlands", "kilimani", "kileleshwa", "lavington", "karen", "langata", "embakasi",
    "kasarani", "roysambu", "githurai", "zimmerman", "kahawa", "ruaka", "runda", "parklands",
    "eastleigh", "buruburu", "donholm", "umoja", "kayole", "utawala", "ngara", "pangani",
    "kawangware", "dagoretti", "kibera", "madaraka", "upperhill", "hurlingham", "gigiri",
    "muthaiga", "kangemi", "uthiru", "kitisuru", "ridgeways", "fedha", "tassia", "pipeline",
    "southb", "southc",
    "cbd", "town",
    // Where a customer wants a thing brought
    "office", "home", "house", "place", "nyumbani", "ofisini", "kazini", "estate", "apartment",
    "hostel", "campus",
];

/// "I" and the perfect or the past, written before a verb's root: nime-, nili-.
const I_DID: &[&str] = &["nime", "nili"];

/// "You" (the shop) and the perfect, or "already" (-sha-), written before a verb's root: whether
/// a job is done ("mmemaliza?", "mmeshatuma?": have you sent it?), the customer's order
/// (JOB_STATUS), not whether the shop does such work.
const YOU_DID: &[&str] = &["mme", "ume", "mmesha", "umesha", "msha", "usha"];

/// A job's or an order's progress, a topic (SHIPPED_TOPICS).
const JOB_STATUS: &str = "arrive";

/// What the shop does for a customer, whose perfect asks whether it is done (YOU_DID); not a
/// state: "mmefungua?" asks whether the shop is open.
const JOBS: &[&str] = &["deliver", "repair", "finish"];

/// Shipped roots that mean another thing with "you" (the shop) as their object: pata is "get"
/// (kupata keyboard), ku-wa-pata "find you" (nitawapata wapi?).
const WITH_YOU_AS_OBJECT: &[(&str, &str)] = &[("pat", "find")];

/// "You" as a verb's object, singular and plural.
const YOU: &[&str] = &["ku", "wa"];

/// What a verb of the customer's own past means (I have sent, I paid: nimetuma, nililipa, and
/// "I paid" in English, text.rs): a report of something done, an order or a payment on its
/// way, which names a question of its own (SHIPPED_TOPICS).
pub const DONE: &str = "done";

/// Short shipped roots whose applicative means what they mean (lipia: pay for; letea: bring
/// to; uzia: sell to), unlike tumia (use, not send).
const APPLICATIVE_SHORT_ROOTS: &[&str] = &["lip", "let", "uz"];

/// Short shipped roots whose applicative alone makes another verb (tumia, natumia: use), but
/// with an object just before the root (OBJECT_INFIXES) and the ending -ia/-ea means the root
/// done for someone (ni-tum-ia, send me; mnaweza ku-ni-tum-ia). Not the subjunctive -ie:
/// "nitumie" is also "may I use". (Not pat-: nipatia is "give me", not "find me".)
const OBJECT_APPLICATIVE_ROOTS: &[&str] = &["tum"];

/// Objects a verb is done for, "me" and "us" (OBJECT_APPLICATIVE_ROOTS).
const OBJECT_INFIXES: &[&str] = &["ni", "tu"];

/// A tenant's words and the shipped ones, as the matcher reads them.
#[derive(Default)]
pub struct Lexicon {
    /// A word (lower case, accents folded) → the word it means.
    means: HashMap<String, String>,
    /// Two words said together → the word they mean ("boxing day" → holiday), by the first word.
    phrases: HashMap<String, Vec<(String, String)>>,
    /// A verb root → the word it means.
    roots: HashMap<String, String>,
    /// The longest root, in characters (bounds the search).
    longest_root: usize,
    greetings: Vec<String>,
    /// Words that name a question of their own (SHIPPED_TOPICS).
    topics: Vec<String>,
    /// A word as the matcher reads it → the kind of thing it also is (SHIPPED_KINDS).
    kinds: HashMap<String, String>,
    /// What raw words read as (text::normal), remembered: an FAQ's phrasings repeat their words,
    /// and so do customers. Emptied past MEMO_WORDS words, so a session's copy stays small.
    memo: RefCell<HashMap<String, Option<String>>>,
}

/// The most words Lexicon::remembered keeps.
const MEMO_WORDS: usize = 20_000;

impl Lexicon {
    /// The shipped lexicon with a tenant's words: (word, what it means); a word ending in "-" is
    /// a Swahili verb root ("tengenez-"). Keys are compared in lower case; empty ones are skipped.
    pub fn with(tenant: &[(String, String)]) -> Lexicon {
        let mut lexicon = Lexicon::default();
        let shipped = SHIPPED_WORDS
            .iter()
            .map(|&(w, m)| (w.to_string(), m.to_string()));
        let roots = SHIPPED_ROOTS
            .iter()
            .map(|&(r, m)| (format!("{r}-"), m.to_string()));
        let kinds = SHIPPED_KINDS
            .iter()
            .map(|&(w, k)| (w.to_string(), format!("+{k}")));
        let phrases = SHIPPED_PHRASES
            .iter()
            .map(|&(p, m)| (p.to_string(), m.to_string()));
        for (word, meaning) in shipped
            .chain(phrases)
            .chain(roots)
            .chain(kinds)
            .chain(tenant.iter().cloned())
        {
            let key = super::text::lower(word.trim());
            let meaning = super::text::lower(meaning.trim());
            if meaning.is_empty() {
                continue;
            }
            if let Some(kind) = meaning.strip_prefix('+') {
                let kind = kind.trim();
                if !kind.is_empty() && !key.is_empty() && key.chars().all(char::is_alphanumeric) {
                    lexicon.kinds.insert(key, kind.to_string());
                }
                continue;
            }
            if let Some((first, second)) = key.split_once(' ') {
                let second = second.trim();
                let one_word = |w: &str| !w.is_empty() && w.chars().all(char::is_alphanumeric);
                if one_word(first) && one_word(second) {
                    let known = lexicon.phrases.entry(first.to_string()).or_default();
                    known.retain(|(w, _)| w != second);
                    known.push((second.to_string(), meaning));
                }
                continue;
            }
            match key.strip_suffix('-') {
                Some(root) if !root.is_empty() && root.chars().all(char::is_alphanumeric) => {
                    lexicon.longest_root = lexicon.longest_root.max(root.len());
                    lexicon.roots.insert(root.to_string(), meaning);
                }
                _ if !key.is_empty() && key.chars().all(char::is_alphanumeric) => {
                    lexicon.means.insert(key, meaning);
                }
                _ => {}
            }
        }
        lexicon.greetings = GREETINGS.iter().map(|g| g.to_string()).collect();
        lexicon.topics = SHIPPED_TOPICS.iter().map(|t| t.to_string()).collect();
        lexicon
    }

    /// The shipped lexicon alone.
    #[cfg(test)]
    pub fn shipped() -> Lexicon {
        Lexicon::with(&[])
    }

    /// What a word (lower case) means, if the lexicon knows it: itself as a listed word, or
    /// as a verb root with prefixes and an ending.
    pub fn meaning(&self, word: &str) -> Option<&str> {
        if let Some(m) = self.means.get(word) {
            return Some(m);
        }
        if self.roots.is_empty() || !word.is_ascii() {
            return None;
        }
        // Every split into prefixes + root + ending; the longest root wins.
        let mut found: Option<(usize, &str, usize)> = None;
        for start in prefix_chain_ends(word, MAX_PREFIXES) {
            let rest = &word[start..];
            let applicative = APPLICATIVE_ENDINGS.iter().map(|e| (e, true));
            for (ending, needs_long_root) in
                VERB_ENDINGS.iter().map(|e| (e, false)).chain(applicative)
            {
                let Some(root) = rest.strip_suffix(ending) else {
                    continue;
                };
                let short = root.len() < ENGLISH_ROOT_LEN;
                if root.len() > self.longest_root
                    || (ending.is_empty() && short)
                    || (needs_long_root
                        && short
                        && !APPLICATIVE_SHORT_ROOTS.contains(&root)
                        && !(OBJECT_APPLICATIVE_ROOTS.contains(&root)
                            && OBJECT_INFIXES.iter().any(|o| word[..start].ends_with(o))
                            && ending.ends_with('a')))
                {
                    continue;
                }
                if let Some(m) = self.roots.get(root) {
                    let m = WITH_YOU_AS_OBJECT
                        .iter()
                        .find(|(r, _)| {
                            // Not first: ku- first is the infinitive, wa- first "they".
                            *r == root
                                && YOU
                                    .iter()
                                    .any(|y| start > y.len() && word[..start].ends_with(y))
                        })
                        .map_or(m.as_str(), |(_, meaning)| meaning);
                    if found.is_none_or(|(len, _, _)| root.len() > len) {
                        found = Some((root.len(), m, start));
                    }
                }
            }
        }
        // What the customer did (nimetuma, nililipa): a report, not a question about it.
        found.map(|(_, m, start)| {
            // I (ni-) and the perfect or past (-me-, -li-), right before the root.
            let reports = I_DID
                .iter()
                .any(|p| start == p.len() && word.starts_with(p));
            let asks_if_done = JOBS.contains(&m)
                && YOU_DID
                    .iter()
                    .any(|p| start == p.len() && word.starts_with(p));
            if reports {
                DONE
            } else if asks_if_done {
                JOB_STATUS
            } else {
                m
            }
        })
    }

    /// What two raw words (lower case) said one after the other mean together, if a phrase.
    pub fn phrase(&self, first: &str, second: &str) -> Option<&str> {
        self.phrases
            .get(first)?
            .iter()
            .find(|(w, _)| w == second)
            .map(|(_, m)| m.as_str())
    }

    /// What `raw` reads as: remembered from an earlier call, else `read()`'s answer, remembered.
    pub fn remembered(&self, raw: &str, read: impl FnOnce() -> Option<String>) -> Option<String> {
        if let Some(known) = self.memo.borrow().get(raw) {
            return known.clone();
        }
        let answer = read();
        let mut memo = self.memo.borrow_mut();
        if memo.len() >= MEMO_WORDS {
            memo.clear();
        }
        memo.insert(raw.to_string(), answer.clone());
        answer
    }

    /// The kind of thing a word (as the matcher reads it, text::words) also is: drum → instrument.
    pub fn kind(&self, word: &str) -> Option<&str> {
        self.kinds.get(word).map(String::as_str)
    }

    /// Whether a word (as the matcher reads it) names a question of its own (SHIPPED_TOPICS).
    pub fn is_topic(&self, word: &str) -> bool {
        self.topics.iter().any(|t| t == word)
    }

    /// Whether a word (as the matcher reads it) names a place in Kenya (PLACES).
    pub fn is_place(&self, word: &str) -> bool {
        PLACES.contains(&word)
    }

    /// Whether a raw word (lower case) greets, thanks or is polite: at the end of a question it
    /// says nothing about it.
    pub fn closes(&self, word: &str) -> bool {
        self.is_greeting(word) || CLOSINGS.contains(&word)
    }

    /// Whether a raw word (lower case) greets or is polite without asking anything.
    pub fn is_greeting(&self, word: &str) -> bool {
        self.greetings.iter().any(|g| g == word)
    }
}

/// How many verb prefixes may be written together before a root.
const MAX_PREFIXES: usize = 4;

/// The byte offsets of `word` (an ASCII word) at which up to `max` verb prefixes written together
/// end, in increasing order; 0 (no prefix) first. One pass over the word: the fewest prefixes
/// that reach each offset (trying every split again for every offset cost most of an ingest's
/// matching, make count).
fn prefix_chain_ends(word: &str, max: usize) -> impl Iterator<Item = usize> + '_ {
    let mut fewest = vec![usize::MAX; word.len() + 1];
    fewest[0] = 0;
    for at in 0..word.len() {
        if fewest[at] >= max {
            continue;
        }
        for prefix in VERB_PREFIXES {
            if word[at..].starts_with(prefix) {
                let end = at + prefix.len();
                fewest[end] = fewest[end].min(fewest[at] + 1);
            }
        }
    }
    (0..word.len()).filter(move |&at| fewest[at] <= max)
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn verb_forms_find_their_root_with_any_prefixes_and_endings() {
        let lexicon = Lexicon::shipped();
        for (word, meaning) in [
            ("mnatengeneza", "repair"),
            ("kuitengeneza", "repair"),
            ("hawatengenezi", "repair"),
            ("mnarekebisha", "repair"),
            ("mnafungua", "open"),
            ("mnafunga", "close"),
            ("mtakuwa", "-"),
            ("letewa", "deliver"),
            ("nitaletewa", "deliver"),
            ("mnatuma", "deliver"),
            ("kudeliver", "deliver"),
            ("mnalipisha", "pay"),
            ("sitalipa", "pay"),
            ("mnauza", "sell"),
            ("mnakubali", "accept"),
            ("tumia", "-"),
            ("meza", "-"),
            ("tulip", "-"),
        ] {
            assert_eq!(lexicon.meaning(word).unwrap_or("-"), meaning, "{word}");
        }
    }

    #[test]
    fn the_applicative_ending_only_after_a_long_root_or_an_object() {
        let lexicon = Lexicon::shipped();
        for (word, meaning) in [
            ("mnashughulikia", "handle"),
            ("kunirekebishia", "repair"),
            ("tumia", "-"),
            ("natumia", "-"),
            ("kutumia", "-"),
            ("nitumia", "deliver"),
            ("kunitumia", "deliver"),
            ("mnaweza", "can"),
            ("nitumie", "-"),
            ("nitalipia", "pay"),
            ("nimetuma", "done"),
            ("nililipa", "done"),
            ("nilipe", "pay"),
            ("nipatia", "-"),
            ("kupata", "get"),
            ("nitawapata", "find"),
            ("nitakupata", "find"),
            ("mtaniletea", "deliver"),
            ("kutuletea", "deliver"),
        ] {
            assert_eq!(lexicon.meaning(word).unwrap_or("-"), meaning, "{word}");
        }
    }

    #[test]
    fn habitual_and_negative_forms_find_their_root() {
        let lexicon = Lexicon::shipped();
        for (word, meaning) in [
            ("mnaletaga", "deliver"),
            ("mnafunguanga", "open"),
            ("mnarekebishaga", "repair"),
            ("hamfungui", "open"),
            ("hatufungui", "open"),
            ("hawauzi", "sell"),
            ("mnafundisha", "lesson"),
            ("tunawafundisha", "lesson"),
        ] {
            assert_eq!(lexicon.meaning(word).unwrap_or("-"), meaning, "{word}");
        }
    }

    #[test]
    fn topics_places_and_closings_are_known() {
        let lexicon = Lexicon::shipped();
        assert!(lexicon.is_topic("price") && lexicon.is_topic("lesson"));
        assert!(!lexicon.is_topic("deliver"));
        assert_eq!(lexicon.meaning("bei"), Some("price"));
        assert_eq!(lexicon.phrase("how", "much"), Some("price"));
        assert_eq!(
            lexicon.phrase("been", "fixed"),
            Some("arrive"),
            "a job's status"
        );
        assert_eq!(lexicon.meaning("mmemaliza"), Some("arrive"));
        assert_eq!(lexicon.meaning("mmeshatuma"), Some("arrive"));
        assert_eq!(lexicon.meaning("mnatuma"), Some("deliver"));
        assert_eq!(lexicon.meaning("nimalize"), Some("finish"));
        assert_eq!(
            lexicon.meaning("mmefungua"),
            Some("open"),
            "a state, not a job"
        );
        assert_eq!(lexicon.meaning("ready"), Some("arrive"));
        assert!(lexicon.is_place("nakuru") && lexicon.is_place("kilimani"));
        assert!(!lexicon.is_place("guitar"));
        assert!(lexicon.closes("asante") && lexicon.closes("boss"));
        assert!(
            !lexicon.is_greeting("asante"),
            "thanks is the message when it comes first"
        );
    }

    #[test]
    fn phrases_are_two_words_shipped_or_a_tenants() {
        let lexicon = Lexicon::with(&[
            ("Lay By".into(), "instalment".into()),
            ("boxing day".into(), "boxing".into()),
            ("three word phrase".into(), "skipped".into()),
        ]);
        assert_eq!(lexicon.phrase("lay", "by"), Some("instalment"));
        assert_eq!(
            lexicon.phrase("boxing", "day"),
            Some("boxing"),
            "the tenant's wins"
        );
        assert_eq!(
            lexicon.phrase("payment", "plan"),
            Some("instalment"),
            "shipped"
        );
        assert_eq!(lexicon.phrase("lay", "down"), None);
        assert_eq!(lexicon.phrase("by", "lay"), None, "in its order only");
        assert_eq!(lexicon.phrase("three", "word"), None);
        assert_eq!(lexicon.meaning("lay"), None);
    }

    #[test]
    fn holidays_and_weekends_are_days() {
        let lexicon = Lexicon::shipped();
        assert_eq!(lexicon.kind("weekend"), Some("day"));
        assert_eq!(lexicon.kind("holiday"), Some("day"));
        assert_eq!(lexicon.kind("sunday"), None);
        assert_eq!(lexicon.kind("hour"), None);
    }

    #[test]
    fn a_tenants_words_add_to_the_shipped_ones_and_win() {
        let lexicon = Lexicon::with(&[
            ("Rekebisho".into(), "repair".into()),
            ("send".into(), "send".into()),
            ("pig-".into(), "call".into()),
            (" ".into(), "nothing".into()),
            ("two words".into(), "skipped".into()),
            ("x".into(), "".into()),
        ]);
        assert_eq!(lexicon.meaning("rekebisho"), Some("repair"));
        assert_eq!(lexicon.meaning("send"), Some("send"), "the tenant's wins");
        assert_eq!(lexicon.meaning("nitakupigia"), None, "applicative ending");
        assert_eq!(lexicon.meaning("nipigiwa"), Some("call"));
        assert_eq!(
            lexicon.meaning("mend"),
            Some("repair"),
            "shipped still there"
        );
        assert_eq!(lexicon.meaning("two words"), None);
    }
}
