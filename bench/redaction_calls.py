"""The labelled set of bench/redaction.py: what callers say in en/es/de/fr, and the entity each holds.

Each item is one caller's turns (a number split over two turns has two parts; the agent's "Mm-hmm" goes
between them), the entity type it holds (None: no personal data), and what must not survive redaction:
the digits of a number, or the words of a name, e-mail, address or date. An item may start with the
agent's question ("And the three digits on the back?"), when the caller's answer names nothing itself.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Item:
    language: str
    parts: tuple[str, ...]
    entity: str | None
    secret: str  # the digits (numbers) or lower-case words (anything else) that must not remain
    asked: str | None = None  # the agent's question before the caller's first part


def _item(language: str, entity: str | None, secret: str, *parts: str, asked: str | None = None) -> Item:
    return Item(language, parts, entity, secret, asked)


CARD, PHONE, EMAIL = "CARD_NUMBER", "PHONE_NUMBER", "EMAIL"
NAME, ADDRESS, BIRTH = "NAME", "ADDRESS", "DATE_OF_BIRTH"
CODE, EXPIRY, NATIONAL_ID, BANK = "SECURITY_CODE", "CARD_EXPIRY", "NATIONAL_ID", "BANK_ACCOUNT"

ITEMS = [
    # English: the Piper voice.
    _item(
        "en",
        CARD,
        "4111111111111111",
        "My card number is four one one one, one one one one, one one one one, one one one one.",
    ),
    _item(
        "en",
        CARD,
        "5555555555554444",
        "It's five five five five, five five five five,",
        "uh, five five five five, four four four four.",
    ),
    _item(
        "en",
        CARD,
        "4012888888881881",
        "The card is four oh one two, eight eight eight eight, eight eight eight eight, one eight eight one.",
    ),
    _item(
        "en",
        CARD,
        "4242424242424242",
        "Four two four two, sorry, four two four two, four two four two, four two four two, "
        "four two four two.",
    ),
    _item("en", PHONE, "4155552671", "You can call me on four one five, five five five, two six seven one."),
    _item("en", PHONE, "07911123456", "My mobile is oh seven nine one one, one two three, four five six."),
    _item("en", PHONE, "2025550143", "The number is two oh two,", "uh, five five five, oh one four three."),
    _item("en", EMAIL, "anna schmidt gmail", "My email is anna dot schmidt at gmail dot com."),
    _item("en", EMAIL, "peter jones outlook", "It's peter jones at outlook dot com, all one word."),
    _item("en", NAME, "robert miller", "My name is Robert Miller."),
    _item("en", NAME, "miller", "Please send the letter to Robert Miller."),
    _item("en", ADDRESS, "oak", "I live at forty two Oak Street."),
    _item("en", BIRTH, "1982", "I was born on the fourteenth of July nineteen eighty two."),
    _item("en", None, "", "I have two questions about my bill, and one of them is about the fee."),
    # Spanish, German and French: Kokoro-82M reading espeak-ng's phonemes (bench/redaction_voices.py).
    _item(
        "es",
        CARD,
        "4111111111111111",
        "Mi tarjeta es cuatro uno uno uno, uno uno uno uno, uno uno uno uno, uno uno uno uno.",
    ),
    _item(
        "es",
        CARD,
        "5555555555554444",
        "Es cinco cinco cinco cinco, cinco cinco cinco cinco,",
        "eh, cinco cinco cinco cinco, cuatro cuatro cuatro cuatro.",
    ),
    _item(
        "es",
        CARD,
        "4012888888881881",
        "La tarjeta es cuatro cero uno dos, ocho ocho ocho ocho, ocho ocho ocho ocho, uno ocho ocho uno.",
    ),
    _item("es", PHONE, "612345678", "Mi móvil es seis uno dos, tres cuatro cinco, seis siete ocho."),
    _item(
        "es", PHONE, "915551234", "El teléfono es nueve uno cinco,", "eh, cinco cinco uno, dos tres cuatro."
    ),
    _item("es", EMAIL, "carmen ruiz gmail", "Mi correo es carmen punto ruiz arroba gmail punto com."),
    _item("es", NAME, "carmen ruiz", "Me llamo Carmen Ruiz."),
    _item("es", NAME, "ruiz", "Envíe la carta a Carmen Ruiz, por favor."),
    _item("es", ADDRESS, "mayor", "Vivo en la calle Mayor quince."),
    _item("es", BIRTH, "1982", "Nací el catorce de julio de mil novecientos ochenta y dos."),
    _item("es", None, "", "Tengo dos preguntas sobre mi factura."),
    # Added 2026-12-05 (at least five cards, phones and e-mails per language, said as people say them).
    _item(
        "es",
        CARD,
        "5105105105105100",
        "Mi tarjeta es cinco uno cero cinco, uno cero cinco uno, cero cinco uno cero, cinco uno cero cero.",
    ),
    _item(
        "es",
        CARD,
        "4000056655665556",
        "El número de la tarjeta es cuarenta, cero cero, cero cinco, sesenta y seis, cincuenta y cinco, "
        "sesenta y seis, cincuenta y cinco, cincuenta y seis.",
    ),
    _item("es", PHONE, "600123456", "Mi número es seis cero cero, doce, treinta y cuatro, cincuenta y seis."),
    _item("es", PHONE, "914567890", "Llámeme al nueve uno, cuatro cinco seis, setenta y ocho, noventa."),
    _item(
        "es",
        PHONE,
        "34699887766",
        "Mi móvil es más treinta y cuatro, seis nueve nueve, ochenta y ocho, setenta y siete, "
        "sesenta y seis.",
    ),
    _item("es", EMAIL, "jose garcia hotmail", "Mi correo es jose guion bajo garcia arroba hotmail punto es."),
    _item("es", EMAIL, "lucia fernandez yahoo", "Es lucia punto fernandez arroba yahoo punto es."),
    _item("es", EMAIL, "pablo lopez outlook", "Mi email es pablo guion lopez arroba outlook punto com."),
    _item(
        "es", EMAIL, "ana ruiz gmail", "Escríbame a ana punto ruiz ochenta y cinco arroba gmail punto com."
    ),
    _item("es", None, "", "Pagué dos facturas de cuarenta y cinco euros el mes pasado."),
    _item(
        "de",
        CARD,
        "4111111111111111",
        "Meine Karte ist vier eins eins eins, eins eins eins eins, eins eins eins eins, eins eins eins eins.",
    ),
    _item(
        "de",
        CARD,
        "5555555555554444",
        "Das ist fünf fünf fünf fünf, fünf fünf fünf fünf,",
        "äh, fünf fünf fünf fünf, vier vier vier vier.",
    ),
    _item(
        "de",
        CARD,
        "4012888888881881",
        "Die Karte ist vier null eins zwei, acht acht acht acht, acht acht acht acht, eins acht acht eins.",
    ),
    _item(
        "de",
        PHONE,
        "01712345678",
        "Meine Handynummer ist null eins sieben eins, zwei drei vier, fünf sechs sieben acht.",
    ),
    _item(
        "de",
        PHONE,
        "03012345678",
        "Die Nummer ist null drei null,",
        "äh, eins zwei drei vier, fünf sechs sieben acht.",
    ),
    _item("de", EMAIL, "thomas becker web", "Meine E-Mail ist thomas punkt becker at web punkt de."),
    _item("de", NAME, "thomas becker", "Ich heiße Thomas Becker."),
    _item("de", NAME, "becker", "Schicken Sie den Brief bitte an Thomas Becker."),
    _item("de", ADDRESS, "bahnhofstraße", "Ich wohne in der Bahnhofstraße sieben."),
    _item("de", BIRTH, "1982", "Ich bin am vierzehnten Juli neunzehnhundertzweiundachtzig geboren."),
    _item("de", None, "", "Ich habe zwei Fragen zu meiner Rechnung."),
    _item(
        "de",
        CARD,
        "5200828282828210",
        "Meine Kreditkarte ist fünf zwo null null, acht zwo acht zwo, acht zwo acht zwo, acht zwo eins null.",
    ),
    _item(
        "de", CARD, "6011111111111117", "Die Kartennummer ist sechzig elf, elf elf, elf elf, elf siebzehn."
    ),
    _item(
        "de",
        PHONE,
        "08924631852",
        "Meine Telefonnummer ist null acht neun, vierundzwanzig, dreiundsechzig, achtzehn, zweiundfünfzig.",
    ),
    _item(
        "de",
        PHONE,
        "015233467890",
        "Sie erreichen mich unter null eins fünf zwo, doppel drei vier, sechs sieben acht neun null.",
    ),
    _item(
        "de",
        PHONE,
        "491764567890",
        "Meine Mobilnummer ist plus neunundvierzig, eins sieben sechs, vier fünf sechs, "
        "sieben acht neun null.",
    ),
    _item(
        "de",
        EMAIL,
        "anna schmidt gmx",
        "Meine E-Mail-Adresse ist anna unterstrich schmidt at gmx punkt de.",
    ),
    _item("de", EMAIL, "klaus wagner gmail", "Das ist klaus punkt wagner Klammeraffe gmail punkt com."),
    _item("de", EMAIL, "lena meyer posteo", "Schreiben Sie an lena bindestrich meyer at posteo punkt de."),
    _item("de", EMAIL, "mueller web", "Meine Mail ist mueller zweiundachtzig at web punkt de."),
    _item("de", None, "", "Ich habe zwei Rechnungen über fünfundvierzig Euro bezahlt."),
    _item(
        "fr",
        CARD,
        "4111111111111111",
        "Ma carte c'est quatre un un un, un un un un, un un un un, un un un un.",
    ),
    _item(
        "fr",
        CARD,
        "5555555555554444",
        "C'est cinq cinq cinq cinq, cinq cinq cinq cinq,",
        "euh, cinq cinq cinq cinq, quatre quatre quatre quatre.",
    ),
    _item(
        "fr",
        CARD,
        "4012888888881881",
        "La carte est quatre zéro un deux, huit huit huit huit, huit huit huit huit, un huit huit un.",
    ),
    _item(
        "fr",
        PHONE,
        "0612345678",
        "Mon portable est zéro six, douze, trente-quatre, cinquante-six, soixante-dix-huit.",
    ),
    _item(
        "fr",
        PHONE,
        "0145678912",
        "Le numéro est zéro un,",
        "euh, quarante-cinq, soixante-sept, quatre-vingt-neuf, douze.",
    ),
    _item("fr", EMAIL, "julien moreau orange", "Mon email est julien point moreau arobase orange point fr."),
    _item("fr", NAME, "julien moreau", "Je m'appelle Julien Moreau."),
    _item("fr", NAME, "moreau", "Envoyez la lettre à Julien Moreau, s'il vous plaît."),
    _item("fr", ADDRESS, "victor hugo", "J'habite au huit rue Victor Hugo."),
    _item("fr", BIRTH, "1982", "Je suis né le quatorze juillet mille neuf cent quatre-vingt-deux."),
    _item("fr", None, "", "J'ai deux questions sur ma facture."),
    _item(
        "fr",
        CARD,
        "4000056655665556",
        "Ma carte bancaire, c'est quarante zéro zéro, zéro cinq soixante-six, cinquante-cinq soixante-six, "
        "cinquante-cinq cinquante-six.",
    ),
    _item(
        "fr",
        CARD,
        "5425233430109903",
        "Le numéro de carte est cinq quatre deux cinq, deux double trois quatre, trois zéro un zéro, "
        "double neuf zéro trois.",
    ),
    _item(
        "fr",
        PHONE,
        "0752334455",
        "Mon numéro c'est le zéro sept, cinquante-deux, trente-trois, quarante-quatre, cinquante-cinq.",
    ),
    _item(
        "fr",
        PHONE,
        "0198765432",
        "Appelez-moi au zéro un, quatre-vingt-dix-huit, soixante-seize, cinquante-quatre, trente-deux.",
    ),
    _item(
        "fr",
        PHONE,
        "33614253677",
        "Mon portable, c'est plus trente-trois, six, quatorze, vingt-cinq, trente-six, soixante-dix-sept.",
    ),
    _item(
        "fr",
        EMAIL,
        "sophie martin gmail",
        "Mon adresse mail c'est sophie point martin arobase gmail point com.",
    ),
    _item("fr", EMAIL, "luc bernard free", "C'est luc tiret bernard arobase free point fr."),
    _item(
        "fr", EMAIL, "camille petit laposte", "Écrivez à camille tiret bas petit arobase laposte point net."
    ),
    _item("fr", EMAIL, "pierre durand yahoo", "Mon courriel, c'est Pierre Durand at yahoo point fr."),
    _item("fr", None, "", "J'ai payé deux factures de quarante-cinq euros le mois dernier."),
    # Answers to the agent's question, which name nothing themselves (a payment call's flow).
    _item("en", CODE, "456", "Four five six.", asked="And the three digits on the back of the card?"),
    _item("en", EXPIRY, "1226", "Twelve twenty-six.", asked="And the expiry date on the card?"),
    _item(
        "en",
        BIRTH,
        "1985",
        "The third of March, nineteen eighty-five.",
        asked="Can you confirm your date of birth?",
    ),
    _item("es", CODE, "789", "Siete ocho nueve.", asked="¿Y el código de seguridad de la tarjeta?"),
    _item("es", EXPIRY, "1226", "Doce veintiséis.", asked="¿Y la fecha de caducidad?"),
    _item("de", CODE, "321", "Drei zwei eins.", asked="Und die Prüfnummer auf der Rückseite der Karte?"),
    _item("de", EXPIRY, "1226", "Zwölf sechsundzwanzig.", asked="Und das Ablaufdatum der Karte?"),
    _item("fr", CODE, "654", "Six cinq quatre.", asked="Et le cryptogramme au dos de la carte ?"),
    _item("fr", EXPIRY, "1226", "Douze vingt-six.", asked="Et la date d'expiration de la carte ?"),
    # Postal codes, said by the caller or given in answer.
    _item("en", ADDRESS, "94103", "My zip code is nine four one oh three."),
    _item("es", ADDRESS, "28013", "Mi código postal es veintiocho cero trece."),
    _item("de", ADDRESS, "10115", "Meine Postleitzahl ist eins null eins eins fünf."),
    _item("fr", ADDRESS, "75001", "Mon code postal est soixante-quinze zéro zéro un."),
    _item("es", ADDRESS, "08001", "Cero ocho cero cero uno.", asked="¿Y su código postal?"),
    _item("fr", ADDRESS, "69002", "Six neuf zéro zéro deux.", asked="Et votre code postal ?"),
    # The answer after a pause: the caller's first turn holds no value, the agent's "Mm-hmm" between.
    _item(
        "en", CODE, "852", "One moment, let me find it.", "Eight five two.", asked="And the security code?"
    ),
    _item(
        "de", ADDRESS, "80331", "Moment, bitte.", "Acht null drei drei eins.", asked="Und Ihre Postleitzahl?"
    ),
    # A surname spelled with a word for each letter, as asked: the words must go with the letters.
    _item(
        "en",
        NAME,
        "sam mary india tom henry",
        "Sure. S as in Sam, M as in Mary, I as in India, T as in Tom, H as in Henry.",
        asked="Could you spell your last name for me?",
    ),
    _item("en", NAME, "kilo oscar whiskey", "Kilo, Oscar, Whiskey, Alpha, Lima.", asked="And the surname?"),
    _item(
        "es",
        NAME,
        "granada antonio roma carmen italia",
        "Sí. G de Granada, A de Antonio, R de Roma, C de Carmen, I de Italia, A de Antonio.",
        asked="¿Me puede deletrear el apellido?",
    ),
    _item(
        "de",
        NAME,
        "martha ludwig emil richard",
        "Ja. M wie Martha, Ü wie Übermut, L wie Ludwig, L wie Ludwig, E wie Emil, R wie Richard.",
        asked="Können Sie den Nachnamen buchstabieren?",
    ),
    _item(
        "fr",
        NAME,
        "denise ursule pierre oscar nicolas",
        "Oui. D comme Denise, U comme Ursule, P comme Pierre, O comme Oscar, N comme Nicolas, "
        "T comme Thérèse.",
        asked="Pouvez-vous épeler votre nom ?",
    ),
    # "Code" and "back" name a card's code only together or with the card; said of an error or a bill, not.
    _item("en", CODE, "456", "The code on the back of my card is four five six."),
    _item("es", CODE, "456", "El código de la tarjeta es cuatro cinco seis."),
    _item("es", None, "", "El código de error que me sale es el cuatro cero cuatro."),
    _item("de", None, "", "Auf der Rückseite der Rechnung steht hundertfünfzig Euro."),
    _item("fr", None, "", "Au dos de la facture, il y a cent cinquante euros."),
    # An American call's identity checks: the SSN's last four, a birth year in two digits, an expiry's month
    # by its name; "social" said of media is none.
    _item(
        "en",
        NATIONAL_ID,
        "6789",
        "Sure, it's six seven eight nine.",
        asked="Can I get the last four of your social?",
    ),
    _item("en", BIRTH, "385", "March third, eighty-five.", asked="And your date of birth?"),
    _item("en", EXPIRY, "2027", "September twenty twenty-seven.", asked="And the expiration date?"),
    _item("en", None, "", "I saw your post on social media in twenty twenty-four."),
    # A payment by bank transfer or direct debit: the bank's number with the account's, a ZIP code after its
    # state, a driving licence; "sort" and a state said of nothing of the kind.
    _item("en", BANK, "021000021", "The routing number is zero two one, zero zero zero, zero two one."),
    _item("en", BANK, "404784", "It's forty, forty-seven, eighty-four.", asked="And your sort code?"),
    _item("en", ADDRESS, "78701", "I live in Austin, Texas, seven eight seven oh one."),
    _item("en", NATIONAL_ID, "1234567", "My driver's license number is D one two three four five six seven."),
    _item("en", None, "", "What sort of plan is it? We opened twelve offices in Texas last year."),
    # The account number Spanish and French banks wrote before the IBAN: the CCC, the RIB.
    _item(
        "es",
        BANK,
        "00491500051234567892",
        "Mi número de cuenta es cero cero cuatro nueve, uno cinco cero cero, cero cinco, "
        "uno dos tres cuatro cinco seis siete ocho nueve dos.",
    ),
    _item(
        "fr",
        BANK,
        "30006000011234567890189",
        "Mon RIB, c'est trente mille six, zéro zéro zéro zéro un, douze trente-quatre cinquante-six "
        "soixante-dix-huit quatre-vingt-dix, un, quatre-vingt-neuf.",
    ),
    # An account number with no check, told by its words: a German Kontonummer and Bankleitzahl, a French
    # "numéro de compte"; an amount "on the account" is none, nor a department given for a name.
    _item("de", BANK, "532013000", "Meine Kontonummer ist fünf drei zwei null eins drei null null null."),
    _item(
        "de", BANK, "37040044", "Drei sieben null, vier null null, vier vier.", asked="Und die Bankleitzahl?"
    ),
    _item(
        "fr",
        BANK,
        "01234567891",
        "Mon numéro de compte, c'est zéro un, vingt-trois, quarante-cinq, soixante-sept, "
        "quatre-vingt-neuf, un.",
    ),
    _item("de", None, "", "Ich habe hundertfünfzigtausend Euro auf dem Konto."),
    _item("en", None, "", "Billing.", asked="Can I have your name and the reason for your call?"),
    # German and French id numbers with no check of ours: an identity card's and a passport's (capitals
    # among the digits), a pension insurance number; a plan's name of capitals and a year is none.
    _item("de", NATIONAL_ID, "4972", "Meine Ausweisnummer ist C F vier K neun R sieben H zwei."),
    _item(
        "fr", NATIONAL_ID, "1234567", "Mon numéro de passeport, c'est douze A B trente-quatre cinq six sept."
    ),
    _item(
        "de",
        NATIONAL_ID,
        "65170839003",
        "Meine Sozialversicherungsnummer ist fünfundsechzig, siebzehn null acht neununddreißig, J, "
        "null null drei.",
    ),
    _item("de", None, "", "Meine Versicherung hat den Tarif XL zwanzig vierundzwanzig erhöht."),
]
