"""Intents per language: what a post is about, each with the words that showed it.

Patterns run over `rules.model.normalize(text)` (lower case, no accents, links and
user names replaced), so they are written without accents. A post is matched
against its own language's patterns plus English (customers mix in English
words); a post of unknown language against every language.

Sarcasm: a positive word beside a negative event ("great, another delayed
parcel", "thanks for nothing") is flagged so praise is not read as praise.
"""

from __future__ import annotations

import functools
import importlib
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

INTENTS = (
    "question",
    "complaint",
    "billing",
    "double_charge",
    "delivery",
    "outage",
    "account_takeover",
    "privacy_breach",
    "safety",
    "legal",
    "press_threat",
    "churn",
    "praise",
    "thanks_close",
    "spam",
)
URGENT_INTENTS = (
    "safety",
    "legal",
    "account_takeover",
    "privacy_breach",
    "double_charge",
    "outage",
    "churn",
    "press_threat",
)


def bit_mask(names: Iterable[str], order: Sequence[str] = INTENTS) -> int:
    """A set of names (intents by default) as one int, bit i for `order[i]`: what the
    model features and the rules test with a single `&` per post."""
    bits = _bits_of(tuple(order))
    return sum(bits.get(name, 0) for name in set(names))


@functools.lru_cache(maxsize=8)
def _bits_of(order: tuple[str, ...]) -> dict[str, int]:
    return {name: 1 << i for i, name in enumerate(order)}


# the stdlib's regex parser (no public API): used once at import to see which
# characters each intent alternative can start with
_parser: Any = importlib.import_module("re._parser")
_c: Any = importlib.import_module("re._constants")

LANGUAGES = ("en", "it", "es", "de", "fr", "pt", "ro")

# intent -> language -> alternatives (regex fragments joined with |, wrapped in \b...\b)
PATTERNS: Mapping[str, Mapping[str, tuple[str, ...]]] = {
    "question": {
        "en": (
            r"how (do|can|long|much)",
            r"why (is|does|did|has|have|was|am|can)",
            r"when (will|is|does|do|can)",
            r"where (is|are|can|do)",
            r"can (you|i|someone)",
            r"could you",
            r"is there",
            r"any update",
            r"please (help|advise|check|fix|dm|respond|reply|look)",
            r"need help",
            r"help (me|us)",
            r"help(?=\s*[!?.]|\s*$)",
            r"what (is|do|should|happened)",
        ),
        "it": (
            r"come (mai|posso|faccio|si)",
            r"perche",
            r"quando (arriva|arrivera|potete|posso)",
            r"dove (e|sono|posso)",
            r"potete",
            r"potreste",
            r"posso",
            r"aiuto",
            r"aiutatemi",
            r"qualcuno (mi|puo)",
            r"c'?e modo",
        ),
        "es": (
            r"como (puedo|hago|se)",
            r"por ?que",
            r"cuando (llega|va|van|pueden)",
            r"donde (esta|puedo)",
            r"pueden",
            r"podrian",
            r"puedo",
            r"ayuda",
            r"ayudenme",
            r"alguien (me|puede)",
        ),
        "de": (
            r"wie (kann|lange|viel)",
            r"warum",
            r"wann (kommt|wird|konnen)",
            r"wo (ist|kann)",
            r"konnen sie",
            r"konnt ihr",
            r"kann ich",
            r"hilfe",
            r"bitte (um|helfen|melden|prufen)",
        ),
        "fr": (
            r"comment (faire|puis|on)",
            r"pourquoi",
            r"quand (est|va|allez|arrive)",
            r"ou (est|puis)",
            r"pouvez[- ]vous",
            r"pourriez",
            r"puis[- ]je",
            r"aide[zr]?",
            r"svp",
            r"s'?il vous plait",
        ),
        "pt": (
            r"como (posso|faco|faz)",
            r"por ?que",
            r"quando (chega|vai|vao)",
            r"onde (esta|posso)",
            r"podem",
            r"poderiam",
            r"posso",
            r"ajuda",
            r"me ajudem",
            r"alguem (me|pode)",
        ),
        "ro": (
            r"cum (pot|fac|se)",
            r"de ce",
            r"cand (ajunge|vine|puteti)",
            r"unde (este|e|pot)",
            r"puteti",
            r"ajutor",
            r"ma puteti ajuta",
            r"va rog",
        ),
    },
    "complaint": {
        "en": (
            r"still (not|no|waiting|haven'?t|hasn'?t)",
            r"waiting (for|since)",
            r"(terrible|awful|horrible|worst|appalling|shocking|useless|pathetic|disgusting|unacceptable|ridiculous|rubbish|crap|poor) (service|customer|support|experience|company)?",
            r"never again",
            r"not happy",
            r"disappointed",
            r"fed up",
            r"sort (it|this) out",
            r"complain\w*",
            r"(doesn'?t|didn'?t|won'?t|isn'?t|wasn'?t|can'?t) (work|arrive|load|open|respond|help)",
            r"no (one|response|reply|answer)",
            r"broken",
            r"faulty",
            r"damaged",
            r"wrong (item|order|size)",
            r"(hours|days|weeks) (on hold|waiting|later)",
            r"on hold",
            r"scam\w*",
            r"rip ?off",
        ),
        "it": (
            r"ancora (niente|non|nessun)",
            r"vergogna\w*",
            r"pessim\w+",
            r"schifo",
            r"inaccettabile",
            r"delus[oi]",
            r"reclam\w+",
            r"nessuna risposta",
            r"non (funziona|risponde|e arrivat\w+|va)",
            r"rott[oa]",
            r"danneggiat\w+",
            r"truffa\w*",
            r"assurdo",
        ),
        "es": (
            r"todavia (no|nada|sin)",
            r"verguenza",
            r"pesim\w+",
            r"fatal",
            r"inaceptable",
            r"decepcion\w*",
            r"reclamac\w+",
            r"queja\w*",
            r"sin respuesta",
            r"no (funciona|responden|ha llegado|llega)",
            r"rot[oa]",
            r"danad[oa]",
            r"estafa\w*",
            r"indignante",
        ),
        "de": (
            r"immer noch (nicht|kein)",
            r"unverschamt",
            r"katastroph\w+",
            r"schlecht\w*",
            r"inakzeptabel",
            r"enttauscht",
            r"beschwerde\w*",
            r"keine antwort",
            r"(funktioniert|kommt|geht) (nicht|immer noch nicht)",
            r"kaputt",
            r"beschadigt",
            r"betrug\w*",
            r"frechheit",
            r"sauerei",
        ),
        "fr": (
            r"toujours (pas|rien|aucun)",
            r"honte",
            r"nul(le)?",
            r"lamentable",
            r"inadmissible",
            r"inacceptable",
            r"decu\w*",
            r"plainte\w*",
            r"reclamation\w*",
            r"aucune reponse",
            r"(marche|fonctionne) pas",
            r"pas (recu|arrive\w*|livre\w*)",
            r"casse\w*",
            r"endommage\w*",
            r"arnaque\w*",
            r"scandale\w*",
        ),
        "pt": (
            r"ainda (nao|nada|sem)",
            r"vergonha",
            r"pessim\w+",
            r"horrivel",
            r"inaceitavel",
            r"decepcion\w+",
            r"reclama\w+",
            r"sem resposta",
            r"nao (funciona|responde\w*|chegou)",
            r"quebrad[oa]",
            r"danificad[oa]",
            r"golpe",
            r"absurdo",
            r"descaso",
        ),
        "ro": (
            r"inca (nu|nimic)",
            r"rusine",
            r"groaznic\w*",
            r"jalnic\w*",
            r"inacceptabil",
            r"dezamagit\w*",
            r"reclamati\w+",
            r"plangere",
            r"niciun raspuns",
            r"nu (functioneaza|merge|raspunde\w*|a ajuns)",
            r"stricat\w*",
            r"deteriorat\w*",
            r"teap\w+",
            r"bataie de joc",
        ),
    },
    "billing": {
        "en": (
            r"refund\w*",
            r"(card|payment|transaction)s? (was |got |is |keeps (getting )?)?(declined|rejected|failed)",
            r"charged?",
            r"charges",
            r"bill(ed|ing)?",
            r"invoice\w*",
            r"overcharg\w+",
            r"money back",
            r"payment\w*",
            r"debited",
            r"subscription fee",
        ),
        "it": (r"rimbors\w+", r"addebit\w+", r"fattura\w*", r"bolletta\w*", r"pagament\w+", r"soldi indietro"),
        "es": (r"reembols\w+", r"cobr\w+", r"cargo\w*", r"factura\w*", r"pago\w*", r"devolu\w+ (del|de mi) dinero"),
        "de": (
            r"erstattung\w*",
            r"ruckerstatt\w+",
            r"abgebucht",
            r"abbuchung\w*",
            r"rechnung\w*",
            r"zahlung\w*",
            r"geld zuruck",
        ),
        "fr": (r"rembours\w+", r"debit\w*", r"preleve\w*", r"prelevement\w*", r"factur\w+", r"paiement\w*"),
        "pt": (r"reembols\w+", r"cobr\w+", r"estorno\w*", r"fatura\w*", r"pagamento\w*", r"dinheiro de volta"),
        "ro": (r"rambursa\w+", r"banii inapoi", r"debitat\w*", r"factur\w+", r"plat[ai]\w*", r"taxat\w*"),
    },
    "double_charge": {
        "en": (
            r"charged (me )?(twice|two times|double|2x|three times)",
            r"double[- ]?(charged?|billed|payment|debit\w*)",
            r"(two|2|duplicate|multiple) (charges|payments|debits|transactions)",
            r"billed (me )?twice",
            r"paid twice",
            r"taken twice",
        ),
        "it": (
            r"addebitat\w* (due|2) volte",
            r"doppi[oa] (addebito|pagamento)",
            r"pagato due volte",
            r"(due|2) addebiti",
        ),
        "es": (
            r"cobrad\w* (dos|2) veces",
            r"doble (cobro|cargo|pago)",
            r"cobro duplicado",
            r"pagado dos veces",
            r"(dos|2) cargos",
        ),
        "de": (
            r"doppelt (abgebucht|berechnet|bezahlt|belastet)",
            r"zweimal (abgebucht|berechnet|bezahlt|belastet)",
            r"doppelte (abbuchung|zahlung)",
        ),
        "fr": (r"(preleve|debite|facture)\w* (deux|2) fois", r"double (prelevement|debit|paiement)", r"paye deux fois"),
        "pt": (r"cobrad\w* (duas|2) vezes", r"cobranca (dupla|duplicada)", r"pago duas vezes", r"(duas|2) cobrancas"),
        "ro": (
            r"(taxat|debitat|retras)\w* de (doua|2) ori",
            r"plata dubla",
            r"platit de doua ori",
            r"(doua|2) (plati|debitari)",
        ),
    },
    "delivery": {
        "en": (
            r"(parcel|package|order|delivery|courier|shipment)",
            r"not (arrived|delivered)",
            r"hasn'?t arrived",
            r"never (arrived|came|received)",
            r"tracking",
            r"dispatched",
            r"lost (in|my) (post|parcel)",
            r"delayed",
        ),
        "it": (
            r"pacco",
            r"ordine",
            r"consegn\w+",
            r"corriere",
            r"spedizion\w+",
            r"non (e )?arrivat\w+",
            r"tracking",
            r"in ritardo",
        ),
        "es": (
            r"paquete",
            r"pedido",
            r"entrega\w*",
            r"mensajer\w+",
            r"envio",
            r"no (ha )?llegad\w+",
            r"no llega",
            r"seguimiento",
            r"retras\w+",
        ),
        "de": (
            r"paket",
            r"bestellung",
            r"lieferung",
            r"geliefert",
            r"sendung",
            r"zusteller",
            r"nicht angekommen",
            r"verspat\w+",
        ),
        "fr": (r"colis", r"commande", r"livraison", r"livre", r"livreur", r"pas (recu|arrive)", r"suivi", r"en retard"),
        "pt": (
            r"encomenda",
            r"pacote",
            r"pedido",
            r"entrega\w*",
            r"nao chegou",
            r"rastreio",
            r"atrasad\w+",
            r"transportadora",
        ),
        "ro": (
            r"colet\w*",
            r"comand\w+",
            r"livrar\w+",
            r"livrat\w*",
            r"curier\w*",
            r"nu a ajuns",
            r"intarzi\w+",
            r"awb",
        ),
    },
    "outage": {
        "en": (
            r"(app|site|website|service|server|network|system|internet|wifi|login|checkout|payments?) (is |are )?(down|not working|not loading|broken|crashing|crashed)",
            r"outage",
            r"is it down",
            r"down (again|for everyone|for hours)",
            r"can'?t (log ?in|sign ?in|access|connect|load)",
            r"(error|404|500|502|503)\b.{0,20}(again|all day|everywhere)",
            r"no (signal|service|internet|connection)",
            r"keeps crashing",
        ),
        "it": (
            r"(app|sito|servizio|rete|internet|sistema) (e |non )?(down|giu|funziona|bloccat\w+)",
            r"disservizio",
            r"non riesco ad? (accedere|entrare|collegarmi)",
            r"non funziona niente",
            r"fuori servizio",
        ),
        "es": (
            r"(app|web|pagina|servicio|red|internet|sistema) (esta |no )?(caid[oa]|funciona)",
            r"caida",
            r"no puedo (entrar|acceder|conectarme)",
            r"sin (servicio|internet|conexion)",
            r"no funciona nada",
        ),
        "de": (
            r"(app|seite|webseite|dienst|netz|internet|system) (ist )?(down|ausgefallen|funktioniert nicht|geht nicht)",
            r"storung",
            r"ausfall",
            r"kann mich nicht (anmelden|einloggen)",
            r"kein (netz|internet)",
        ),
        "fr": (
            r"(appli|app|site|service|reseau|internet|systeme) (est )?(en panne|down|ne marche|ne fonctionne|hs)",
            r"panne",
            r"impossible de (me connecter|se connecter|acceder)",
            r"plus de (reseau|connexion|internet)",
        ),
        "pt": (
            r"(app|aplicativo|site|servico|rede|internet|sistema) (esta |nao )?(fora do ar|caiu|funciona)",
            r"fora do ar",
            r"nao consigo (entrar|acessar|logar)",
            r"sem (sinal|internet|servico)",
            r"instabilidade",
        ),
        "ro": (
            r"(aplicatia|site\w*|serviciul|reteaua|internetul|sistemul) (nu )?(functioneaza|merge|e picat)",
            r"a picat",
            r"pana de",
            r"nu ma pot (loga|conecta|autentifica)",
            r"fara (semnal|internet)",
        ),
    },
    "account_takeover": {
        "en": (
            r"hack(ed|er|ers)",
            r"(transfers?|payments?|transactions?|purchases?) (that )?i (didn'?t|did not|never) (make|made|authori[sz]e)",
            r"(someone|somebody|they) (is |are |keeps? |keep on )?(still )?(got|get|getting) into my account",
            r"new (device|phone) (logged|signed) in",
            r"hijack\w*",
            r"compromised",
            r"someone (logged|accessed|changed|used|is using)",
            r"unauthori[sz]ed",
            r"wasn'?t me",
            r"not me",
            r"(changed|reset) my (password|email)",
            r"locked out",
            r"stolen account",
            r"phishing",
            r"fraud\w*",
        ),
        "it": (
            r"hackerat\w*",
            r"violat[oa] (il|l'?)?(mio )?account",
            r"qualcuno (ha|e) (acceduto|entrato|usato)",
            r"non autorizzat\w+",
            r"non sono stato io",
            r"frode",
            r"account rubato",
        ),
        "es": (
            r"hacke\w+",
            r"jacke\w+",
            r"alguien (entro|accedio|uso|cambio)",
            r"no autorizad\w+",
            r"no fui yo",
            r"fraude",
            r"suplantacion",
            r"me robaron la cuenta",
        ),
        "de": (
            r"gehackt",
            r"jemand hat sich (eingeloggt|angemeldet)",
            r"nicht autorisiert\w*",
            r"unbefugt\w*",
            r"neues gerat (angemeldet|hinzugefugt)",
            r"(habe|hab) ich nicht (gemacht|veranlasst|autorisiert|angemeldet)",
            r"nicht von mir",
            r"war ich nicht",
            r"betrug",
            r"konto (ubernommen|gestohlen)",
        ),
        "fr": (
            r"pirat\w+",
            r"hack\w+",
            r"quelqu'?un (s'?est connecte|a (utilise|accede|change))",
            r"non autorise\w*",
            r"ce n'?etait pas moi",
            r"fraude",
            r"compte vole",
        ),
        "pt": (
            r"hacke\w+",
            r"invadid[ao]",
            r"alguem (entrou|acessou|usou|mudou)",
            r"nao autorizad\w+",
            r"nao fui eu",
            r"fraude",
            r"golpe no (meu )?(cartao|conta)",
            r"roubaram (minha|a) conta",
        ),
        "ro": (
            r"spart\w*",
            r"hack\w+",
            r"cineva (a intrat|s-a logat|a folosit|a schimbat)",
            r"neautorizat\w*",
            r"nu am fost eu",
            r"frauda",
            r"furat contul",
        ),
    },
    "privacy_breach": {
        "en": (
            r"data (breach|leak)",
            r"leaked",
            r"my (data|details|address|information) (was|were|has been|have been) (shared|leaked|exposed|sold)",
            r"(gdpr|data protection)",
            r"someone else'?s (order|account|details|data)",
            r"privacy",
        ),
        "it": (
            r"violazione (dei )?dati",
            r"dati (personali )?(divulgati|esposti|rubati|condivisi)",
            r"privacy",
            r"gdpr",
            r"garante (della )?privacy",
            r"dati di (un altro|altri)",
        ),
        "es": (
            r"filtracion de datos",
            r"(mis )?datos (personales )?(filtrados|expuestos|robados|compartidos)",
            r"(movimientos|datos|cuenta|pedido) de otra persona",
            r"brecha de (datos|seguridad)",
            r"privacidad",
            r"rgpd",
            r"lopd",
            r"datos de otr[oa]",
        ),
        "de": (
            r"datenleck",
            r"datenpanne",
            r"daten (weitergegeben|geleakt|gestohlen|offen)",
            r"datenschutz\w*",
            r"dsgvo",
            r"daten (eines )?anderen",
        ),
        "fr": (
            r"fuite de donnees",
            r"donnees (personnelles )?(divulguees|exposees|volees|partagees)",
            r"vie privee",
            r"rgpd",
            r"cnil",
            r"donnees d'?un autre",
        ),
        "pt": (
            r"vazamento de dados",
            r"(meus )?dados (pessoais )?(vazados|expostos|roubados|compartilhados)",
            r"privacidade",
            r"lgpd",
            r"dados de outr[ao]",
        ),
        "ro": (
            r"scurgere de date",
            r"date(le)? (personale )?(divulgate|expuse|furate)",
            r"confidentialitat\w+",
            r"gdpr",
            r"datele altcuiva",
        ),
    },
    "safety": {
        "en": (
            r"fire",
            r"caught fire",
            r"on fire",
            r"burn(ed|t|s|ing)?",
            r"smok(e|ing)",
            r"explod\w*",
            r"exploded",
            r"spark(s|ing)",
            r"melt(ed|ing)",
            r"injur\w+",
            r"hurt (me|my|him|her)",
            r"hospital",
            r"electric shock",
            r"shocked me",
            r"food poisoning",
            r"allergic reaction",
            r"choking",
            r"overheat\w*",
            r"dangerous",
            r"unsafe",
        ),
        "it": (
            r"incendi\w+",
            r"fuoco",
            r"fiamme",
            r"brucia\w*",
            r"bruciat\w+",
            r"ustion\w+",
            r"fumo",
            r"esplos\w+",
            r"scintill\w+",
            r"ferit\w+",
            r"ospedale",
            r"scossa",
            r"intossicazione",
            r"pericolos\w+",
        ),
        "es": (
            r"incendi\w+",
            r"fuego",
            r"llamas",
            r"quem\w+",
            r"humo",
            r"explot\w+",
            r"chispa\w*",
            r"herid\w+",
            r"lesion\w*",
            r"hospital",
            r"descarga electrica",
            r"intoxicacion",
            r"peligros\w+",
        ),
        "de": (
            r"in brand",
            r"brand (gefangen|ausgebrochen)",
            r"brandgefahr",
            r"brandgeruch",
            r"feuer",
            r"flammen",
            r"verbrenn\w+",
            r"verbrannt",
            r"rauch",
            r"explodiert",
            r"funken",
            r"verletz\w+",
            r"krankenhaus",
            r"stromschlag",
            r"lebensmittelvergiftung",
            r"gefahrlich",
            r"uberhitz\w+",
        ),
        "fr": (
            r"incendie",
            r"feu",
            r"flammes",
            r"brul\w+",
            r"fumee",
            r"explos\w+",
            r"etincelle\w*",
            r"bless\w+",
            r"hopital",
            r"electrocut\w+",
            r"intoxication",
            r"dangereu\w+",
        ),
        "pt": (
            r"incendio",
            r"fogo",
            r"chamas",
            r"queim\w+",
            r"fumaca",
            r"explod\w+",
            r"faisca\w*",
            r"ferid\w+",
            r"hospital",
            r"choque eletrico",
            r"intoxicacao",
            r"perigos\w+",
        ),
        "ro": (
            r"incendi\w*",
            r"foc",
            r"flacari",
            r"ars[ae]?",
            r"arsur\w+",
            r"fum",
            r"explod\w+",
            r"scantei",
            r"ranit\w*",
            r"spital",
            r"electrocut\w+",
            r"intoxicat\w+",
            r"periculos\w*",
        ),
    },
    "legal": {
        "en": (
            r"lawyer\w*",
            r"attorney\w*",
            r"solicitor\w*",
            r"sue\b",
            r"suing",
            r"lawsuit",
            r"legal action",
            r"small claims",
            r"court",
            r"class action",
            r"trading standards",
        ),
        "it": (
            r"avvocat\w+",
            r"denunci\w+",
            r"querel\w+",
            r"vie legali",
            r"azione legale",
            r"tribunale",
            r"class action",
            r"giudice di pace",
        ),
        "es": (
            r"abogad\w+",
            r"demandar\w*",
            r"demanda judicial",
            r"denunci\w+",
            r"accion(es)? legal\w*",
            r"via legal",
            r"juzgado",
            r"tribunal\w*",
            r"omic",
        ),
        "de": (
            r"anwalt",
            r"anwaltin",
            r"rechtsanwalt",
            r"klage\w*",
            r"verklagen",
            r"rechtliche schritte",
            r"gericht",
            r"verbraucherzentrale",
        ),
        "fr": (
            r"avocat\w*",
            r"plainte",
            r"poursuite\w*",
            r"poursuivre",
            r"action en justice",
            r"tribunal",
            r"justice",
            r"mise en demeure",
        ),
        "pt": (
            r"advogad\w+",
            r"processar",
            r"processo judicial",
            r"acao judicial",
            r"justica",
            r"procon",
            r"tribunal",
            r"juizado",
        ),
        "ro": (
            r"avocat\w*",
            r"dau in judecata",
            r"in instanta",
            r"actiune in instanta",
            r"plangere penala",
            r"anpc",
            r"tribunal\w*",
        ),
    },
    "press_threat": {
        "en": (
            r"journalist\w*",
            r"the press",
            r"go(ing)? to the (press|media|papers)",
            r"bbc",
            r"watchdog",
            r"ombudsman",
            r"regulator",
            r"ofcom",
            r"ofgem",
            r"fca",
            r"ftc",
            r"bbb",
            r"report(ing)? (you|this) to",
        ),
        "it": (
            r"giornal\w+",
            r"stampa",
            r"striscia la notizia",
            r"agcom",
            r"antitrust",
            r"agcm",
            r"segnal\w+ (a|all'?)",
        ),
        "es": (r"periodist\w+", r"prensa", r"facua", r"organizacion de consumidores", r"reguladora?"),
        "de": (r"presse", r"journalist\w*", r"medien", r"bundesnetzagentur", r"bafin", r"aufsicht\w*"),
        "fr": (r"journalist\w+", r"presse", r"medias", r"arcep", r"dgccrf", r"que choisir", r"60 millions"),
        "pt": (
            r"jornalist\w+",
            r"imprensa",
            r"banco de portugal",
            r"cnpd",
            r"deco proteste",
            r"reclame aqui",
            r"anatel",
            r"consumidor\.gov",
            r"midia",
        ),
        "ro": (
            r"jurnalist\w*",
            r"presa",
            r"ancom",
            r"anspdcp",
            r"bnr",
            r"anpc",
            r"protectia consumatorului",
            r"mass[- ]?media",
        ),
    },
    "churn": {
        "en": (
            r"cancel+(ing|ed)? (my|the)? ?(account|subscription|contract|order|membership|plan)",
            r"close my account",
            r"closing my account",
            r"switching (to|over to)",
            r"(i'?m|i am|we'?re) (switching|moving|leaving)",
            r"going to (switch|move) to",
            r"leaving (you|for)",
            r"last time i (use|order|buy|shop)",
            r"never (use|using|buy|buying|order|ordering|shop|shopping) (you|with you|from you|here) again",
            r"moving (my|everything|all)( \w+)? (to|over to)",
            r"thinking (of|about) (moving|switching|leaving)",
            r"taking my (business|money) elsewhere",
            r"unsubscrib\w*",
        ),
        "it": (
            r"disdett\w+",
            r"annull\w+ (l'?|il |la )?(abbonamento|contratto|ordine)",
            r"chiud\w+ (\w+ )?(il )?(mio )?conto",
            r"passo (a|ad) (un altro|altro operatore|la concorrenza)",
            r"passo alla concorrenza",
            r"cambio operatore",
            r"mai piu",
            r"recesso",
        ),
        "es": (
            r"dar(me)? de baja",
            r"cancel\w+ (mi |la |el )?(cuenta|suscripcion|contrato|pedido)",
            r"me cambio (a|de)",
            r"portabilidad",
            r"nunca mas",
            r"me voy (a|con)",
        ),
        "de": (
            r"kundig\w+",
            r"kundigung",
            r"wechsle (zu|zur)",
            r"nie wieder",
            r"konto (schliessen|loschen|auflosen)",
            r"vertrag (beenden|kundigen)",
        ),
        "fr": (
            r"resili\w+",
            r"annul\w+ (mon |l'?)?(abonnement|compte|contrat|commande)",
            r"je pars (chez|a)",
            r"je change (d'?operateur|pour)",
            r"plus jamais",
            r"fermer mon compte",
            r"clotur\w* (mon |le |ce )?compte",
        ),
        "pt": (
            r"cancel\w+ (meu |minha |a |o )?(conta|assinatura|contrato|pedido|plano)",
            r"vou (mudar|trocar) (para|de)",
            r"nunca mais",
            r"portabilidade",
            r"encerrar (minha )?conta",
            r"fechar (a )?(minha )?conta",
        ),
        "ro": (
            r"reziliez",
            r"rezilier\w*",
            r"anulez (abonamentul|contractul|comanda)",
            r"inchid contul",
            r"ma mut la",
            r"trec la (alt|concuren)\w*",
            r"niciodata (nu mai|de la voi)",
        ),
    },
    "praise": {
        "en": (
            r"love (it|this|you|your|the)",
            r"amazing",
            r"awesome",
            r"brilliant",
            r"excellent",
            r"fantastic",
            r"great (service|job|experience|product|team)",
            r"well done",
            r"best (service|company|app|customer)",
            r"highly recommend",
            r"so happy",
            r"impressed",
            r"kudos",
            r"superb",
        ),
        "it": (
            r"fantastic\w+",
            r"bravissim\w+",
            r"ottim\w+",
            r"eccellent\w+",
            r"perfett\w+",
            r"adoro",
            r"consiglio",
            r"complimenti",
            r"top",
        ),
        "es": (
            r"genial",
            r"excelente",
            r"increible",
            r"maravillos\w+",
            r"perfect\w+",
            r"me encanta",
            r"lo recomiendo",
            r"felicidades",
            r"enhorabuena",
        ),
        "de": (
            r"super",
            r"toll\w*",
            r"klasse",
            r"hervorragend",
            r"ausgezeichnet",
            r"perfekt",
            r"empfehle",
            r"begeistert",
            r"spitze",
        ),
        "fr": (r"genial\w*", r"excellent\w*", r"parfait\w*", r"super", r"j'?adore", r"je recommande", r"bravo", r"top"),
        "pt": (
            r"otim\w+",
            r"excelente",
            r"perfeit\w+",
            r"maravilh\w+",
            r"adorei",
            r"amei",
            r"recomendo",
            r"parabens",
            r"top",
        ),
        "ro": (r"excelent\w*", r"perfect\w*", r"minunat\w*", r"super", r"recomand", r"bravo", r"foarte multumit\w*"),
    },
    "thanks_close": {
        "en": (
            r"thanks?( you| so much| a lot)?,? (that|it'?s|all) (sorted|fixed|resolved|worked|done)",
            r"(all|problem|issue) (sorted|fixed|resolved)",
            r"that (worked|did it|helped)",
            r"(thanks|thank you|cheers)( so much| again)? for (your|the) (help|quick|fast)",
            r"works now",
            r"got it,? thanks",
            r"received it",
            r"(sorted|fixed|resolved) now",
            r"thanks? (you )?for (sorting|fixing|resolving|getting back|replying)",
            r"(gone|back to normal|dropped off|came back|arrived)\W+(\w+\W+){0,6}(thanks|thank you|cheers)",
        ),
        "it": (
            r"grazie (mille|per l'?aiuto|del supporto)",
            r"risolto",
            r"tutto a posto",
            r"ora funziona",
            r"arrivato,? grazie",
        ),
        "es": (
            r"gracias (por (la|tu|su) ayuda|por todo)",
            r"(ya )?(esta )?resuelto",
            r"solucionado",
            r"ya funciona",
            r"ya (me )?llego",
        ),
        "de": (
            r"danke (fur die hilfe|fur ihre hilfe|schon)",
            r"(hat sich )?erledigt",
            r"gelost",
            r"funktioniert (jetzt|wieder)",
            r"ist angekommen",
        ),
        "fr": (
            r"merci (pour (votre|ton|l'?) ?aide|beaucoup)",
            r"(c'?est )?(resolu|regle)",
            r"ca marche (maintenant|enfin)",
            r"bien recu",
        ),
        "pt": (r"obrigad[oa] (pela ajuda|pelo suporte)", r"resolvido", r"ja funciona", r"ja chegou", r"deu certo"),
        "ro": (r"multumesc (pentru ajutor|mult)", r"rezolvat", r"merge acum", r"a ajuns,? multumesc"),
    },
    "spam": {
        "en": (
            r"giveaway",
            r"follow (and|&|\+) (rt|retweet)",
            r"rt to win",
            r"win an?",
            r"crypto",
            r"airdrop",
            r"promo code",
            r"discount code",
            r"dm (me )?for",
            r"check (out )?my (profile|channel|link)",
            r"free followers",
            r"earn \$",
            r"onlyfans",
            r"bitcoin",
            r"nft",
            r"click (the )?link in (my )?bio",
        ),
        "it": (r"concorso", r"vinci", r"codice sconto", r"segui e condividi", r"guadagna"),
        "es": (r"sorteo", r"gana", r"codigo (de )?descuento", r"sigue y comparte", r"gana dinero"),
        "de": (r"gewinnspiel", r"gewinne", r"rabattcode", r"folgen und teilen"),
        "fr": (r"concours", r"gagne[rz]?", r"code promo", r"suivez et partagez", r"jeu concours"),
        "pt": (r"sorteio", r"ganhe", r"cupom", r"siga e compartilhe", r"ganhar dinheiro"),
        "ro": (r"concurs", r"castiga", r"cod de reducere", r"urmareste si distribuie"),
    },
}

# Sarcasm: positive word + (negative event intent | sarcasm marker)
_POSITIVE = r"great|brilliant|fantastic|amazing|awesome|perfect|lovely|wonderful|thanks|thank you|cheers|love|nice|genial|grazie|ottimo|perfetto|bravissimi|gracias|genial|perfecto|danke|toll|super|klasse|merci|parfait|genial|obrigad[oa]|otimo|perfeito|multumesc|perfect|minunat"
_SARCASM_MARKERS_TEXT = (
    r"(thanks|thank you|cheers|grazie|gracias|danke|merci|obrigad[oa]|multumesc) (for nothing|per niente|por nada|fur nichts|pour rien|por nada|pentru nimic)"
    r"|\b(yeah right|oh great|just great|just what i needed|love (how|that|waiting)|another (delay|delayed|late|hour|day|week))\b"
    r"|/s\b|🙄|🙃|😒"
)
_POSITIVE_TEXT = rf"\b({_POSITIVE})\b"
_NEGATIVE_EVENT_INTENTS = {"complaint", "delivery", "outage", "billing", "double_charge", "account_takeover", "safety"}
_NEGATIVE_EVENT_TEXT = r"\b(again|still|another|late|delay\w*|waiting|hours? on hold|cancel\w+|lost|broken|ritardo|ancora|otra vez|todavia|schon wieder|wieder|encore|toujours|de novo|outra vez|iar|din nou)\b"


@dataclass(frozen=True)
class IntentHit:
    intent: str
    lang: str
    match: str


def _compile(parts: Iterable[str]) -> re.Pattern[str]:
    return re.compile(r"\b(?:" + "|".join(parts) + r")\b")


PREFIX_CHARS = 4  # how far ahead of a position its candidate alternatives are picked
GATE_CHARS = 6  # how far the gate in front of the scanners looks (a longer look lets fewer positions through)


def _prefixes(items: Any, n: int = PREFIX_CHARS) -> frozenset[str]:
    """Strings of up to `n` characters that a match of a parsed regex must start with
    (a superset); a string shorter than `n` means "then anything", "" means no constraint."""
    if n == 0:
        return frozenset({""})
    for i, (op, av) in enumerate(items):
        rest = list(items[i + 1 :])
        if op is _c.AT or op is _c.ASSERT or op is _c.ASSERT_NOT:
            continue  # zero-width: look at what follows
        if op is _c.LITERAL:
            return frozenset(chr(av) + p for p in _prefixes(rest, n - 1))
        if op is _c.IN:
            if any(kind is not _c.LITERAL for kind, _ in av):
                return frozenset({""})
            after = _prefixes(rest, n - 1)
            return frozenset(chr(v) + p for _, v in av for p in after)
        if op is _c.SUBPATTERN:
            return _prefixes(list(av[-1]) + rest, n)
        if op is _c.BRANCH:
            return frozenset().union(*(_prefixes(list(branch) + rest, n) for branch in av[1]))
        if op in (_c.MAX_REPEAT, _c.MIN_REPEAT, _c.POSSESSIVE_REPEAT):
            low, _, sub = av
            # what follows one repetition is unknown (another one, or the rest): stop there
            once = _prefixes(list(sub), n)
            return once | _prefixes(rest, n) if low == 0 else once
        return frozenset({""})
    return frozenset({""})


class _Gate:
    """Finds the word boundaries where one of `prefixes` starts: the C regex engine then
    skips the word starts where no alternative can match.

    Every prefix starts with a word character (all of PATTERNS' alternatives do, and
    a new one that does not is refused here), so such a boundary is a position just
    after a non-word character or at the start: the scan runs over " " + text with a
    regex starting with \\W, and the engine jumps from one non-word character to the
    next in C instead of trying every position. A match there at index i is position i
    of the text itself."""

    def __init__(self, prefixes: Iterable[str]) -> None:
        found = set(prefixes)
        odd = sorted(p for p in found if not _WORD_CHAR.match(p))  # "" too: an alternative that can start anywhere
        if odd or not found:
            raise ValueError(f"intent alternatives must start with a word character, not as {odd!r} (or be none)")
        self.regex, self.pad = re.compile(r"\W(?=" + _trie(found) + ")"), " "
        # on ASCII text, ASCII classes are the same classes, tested by a table lookup
        self.ascii = re.compile(self.regex.pattern, re.ASCII)

    def positions(self, text: str) -> Iterator[re.Match[str]]:
        """One match per position found, at that position (`.start()`)."""
        return (self.ascii if text.isascii() else self.regex).finditer(self.pad + text)


_WORD_CHAR = re.compile(r"\w")


def _trie(strings: set[str]) -> str:
    """One regex for a set of literal strings, branching on one character at a time
    (the regex engine skips a branch on its first character without entering it).
    A string that is a prefix of others stands for them all ("then anything")."""
    by_first: dict[str, set[str]] = {}
    for text in strings:
        by_first.setdefault(text[0], set()).add(text[1:])
    branches = []
    for first, tails in sorted(by_first.items()):
        if "" in tails:
            branches.append(re.escape(first))
        else:
            branches.append(re.escape(first) + "(?:" + _trie(tails) + ")")
    return "|".join(branches)


def _group(intent: str, alternatives: Iterable[str]) -> str:
    return f"(?P<{intent}>(?:{'|'.join(alternatives)})\\b)"


class _Scanner:
    """Every intent of one language, looked for only where it can start.

    A gate regex (C) finds the word boundaries followed by the first characters of
    some alternative (see `_prefixes`). There, the next few characters pick, from a
    cache, one small regex holding just the alternatives that can start with them,
    grouped by intent in PATTERNS order: the first intent matching there is captured,
    and the other candidate intents are asked at the same position directly (rare:
    a couple of hits per post). Same hits as one `search` per intent, many times faster."""

    def __init__(self, lang: str) -> None:
        self.lang = lang
        # (intent, alternative) in PATTERNS order, and which of them each prefix allows
        self.alternatives: list[tuple[str, str]] = []
        self.by_prefix: dict[str, list[int]] = {}
        self.gate_prefixes: set[str] = set()
        for intent, by_lang in PATTERNS.items():
            for alternative in by_lang.get(lang, ()):
                parsed = list(_parser.parse(alternative))
                for prefix in _prefixes(parsed):
                    self.by_prefix.setdefault(prefix, []).append(len(self.alternatives))
                self.gate_prefixes |= _prefixes(parsed, GATE_CHARS)
                self.alternatives.append((intent, alternative))
        self.gate = _Gate(self.gate_prefixes)
        self._at: dict[str, _Candidates] = {}
        # the candidates of each set of alternatives: many texts ahead share one set
        self._by_ids: dict[tuple[int, ...], _Candidates] = {}

    def prepare(self) -> None:
        """Compile every set of candidates a position can meet, now rather than when a
        post first needs it (loading, not scoring: a first poll used to pay for hundreds
        of regex compilations). Each set is that of a prefix in `by_prefix` (the longest
        one a text ahead starts with), or the empty one."""
        for prefix in ("", *self.by_prefix):
            self._candidates(prefix)

    def _candidates(self, ahead: str) -> _Candidates:
        """The regexes for a position followed by `ahead`: every intent's alternatives
        together (first intent wins), and each intent's own."""
        found = self._at.get(ahead)
        if found is not None:
            return found
        ids = tuple(sorted({i for k in range(len(ahead) + 1) for i in self.by_prefix.get(ahead[:k], ())}))
        found = self._by_ids.get(ids)
        if found is None:
            found = self._by_ids[ids] = self._compile_candidates(ids)
        if len(self._at) > 50_000:
            self._at.clear()
        self._at[ahead] = found
        return found

    def _compile_candidates(self, ids: tuple[int, ...]) -> _Candidates:
        by_intent: dict[str, list[str]] = {}
        for i in ids:
            intent, alternative = self.alternatives[i]
            by_intent.setdefault(intent, []).append(alternative)
        together = (
            re.compile(r"\b(?:" + "|".join(_group(i, alts) for i, alts in by_intent.items()) + ")") if ids else None
        )
        return together, {intent: _compile(alts) for intent, alts in by_intent.items()}

    def first_matches(self, norm: str) -> dict[str, str]:
        """intent -> its leftmost match (what `pattern.search` would give)."""
        found: dict[str, str] = {}
        at = self._at
        for boundary in self.gate.positions(norm):
            pos = boundary.start()
            ahead = norm[pos : pos + PREFIX_CHARS]
            candidates = at.get(ahead)
            _match_at(norm, pos, found, candidates if candidates is not None else self._candidates(ahead))
        return found


# a position's candidate regexes: all intents together (None: no alternative can start
# there), and each intent's own
_Candidates = tuple[re.Pattern[str] | None, dict[str, re.Pattern[str]]]


def _match_at(norm: str, pos: int, found: dict[str, str], candidates: _Candidates) -> None:
    """Add to `found` the intents not in it yet that match at `pos`, given its candidates."""
    together, each = candidates
    m = together.match(norm, pos) if together is not None else None
    if m is None or m.lastgroup is None:
        return
    intent = m.lastgroup
    if intent not in found:
        found[intent] = m.group(intent)
    if len(each) > 1:
        for other, pattern in each.items():
            if other != intent and other not in found:
                hit = pattern.match(norm, pos)
                if hit:
                    found[other] = hit.group(0)


class _Scanners:
    """Several languages' scanners behind one gate (a post's language and English, or
    all of them): the text is scanned once, and where some language's alternative can
    start, each scanner looks for its own there. Same hits as each scanner on its own."""

    def __init__(self, scanners: Sequence[_Scanner]) -> None:
        self.scanners = tuple(scanners)
        self.gate = _Gate(set().union(*(s.gate_prefixes for s in self.scanners)))
        # the text ahead of a position -> (scanner number, its candidates) for the scanners
        # with some alternative that can start there
        self._at: dict[str, list[tuple[int, _Candidates]]] = {}

    def _candidates(self, ahead: str) -> list[tuple[int, _Candidates]]:
        found = [(k, s._candidates(ahead)) for k, s in enumerate(self.scanners)]
        found = [(k, c) for k, c in found if c[0] is not None]
        if len(self._at) > 50_000:
            self._at.clear()
        self._at[ahead] = found
        return found

    def first_matches(self, norm: str) -> list[dict[str, str]]:
        """Each scanner's `first_matches(norm)`, in order."""
        founds: list[dict[str, str]] = [{} for _ in self.scanners]
        at = self._at
        for boundary in self.gate.positions(norm):
            pos = boundary.start()
            ahead = norm[pos : pos + PREFIX_CHARS]
            candidates = at.get(ahead)
            for k, c in candidates if candidates is not None else self._candidates(ahead):
                _match_at(norm, pos, founds[k], c)
        return founds


@functools.cache
def _scanners() -> tuple[dict[str, _Scanner], dict[tuple[str, ...], _Scanners]]:
    """Each language's scanner, and for the languages a post is matched against (its own
    and English, or all of them) their scanners behind one gate. Made on first use:
    parsing every pattern takes about 0.4 s, which commands that score nothing
    (`watcher queue`, `watcher --help`) need not pay."""
    by_lang = {lang: _Scanner(lang) for lang in LANGUAGES}
    together = {
        langs: _Scanners([by_lang[code] for code in langs])
        for langs in (LANGUAGES, *((lang, "en") for lang in LANGUAGES if lang != "en"))
    }
    return by_lang, together


def prepare_scanners() -> None:
    """Make every language's scanner and compile its intent regexes ahead of the first
    post (a post of an unknown language meets them all); see _Scanner.prepare. Once per
    process: later calls find them compiled."""
    for scanner in _scanners()[0].values():
        scanner.prepare()


class _Gated:
    """`pattern`'s `search`, behind a lookahead for the few characters any match starts
    with, so the search passes over most positions without trying each alternative.
    A pattern starting with \\b before a word character is searched for in " " + text
    behind a \\W (see _Gate): the engine then only stops after non-word characters."""

    def __init__(self, pattern: str) -> None:
        items = list(_parser.parse(pattern))
        prefixes = _prefixes(items)
        self.pad = ""
        if "" in prefixes:
            self.regex = re.compile(pattern)
        elif items[0] == (_c.AT, _c.AT_BOUNDARY) and all(_WORD_CHAR.match(p) for p in prefixes):
            self.regex, self.pad = re.compile(f"\\W(?={_trie(set(prefixes))})(?:{pattern})"), " "
        else:
            self.regex = re.compile(f"(?={_trie(set(prefixes))})(?:{pattern})")

    def search(self, text: str) -> str | None:
        """The text of `re.search(pattern, text)`'s match, or None."""
        m = self.regex.search(self.pad + text)
        if m is None:
            return None
        return m.group(0)[len(self.pad) :]


_SARCASM_MARKERS = _Gated(_SARCASM_MARKERS_TEXT)
# Every text _SARCASM_MARKERS can match contains one of these (a test expands the pattern
# to check): most posts have none, and a few substring tests cost less than the search.
MARKER_CLUES = (
    *("nothing", "niente", "nada", "nichts", "rien", "nimic", "right", "great", "needed", "love", "another"),
    *("/s", "🙄", "🙃", "😒"),
)
_POSITIVE_RE = _Gated(_POSITIVE_TEXT)
_NEGATIVE_EVENT_WORDS = _Gated(_NEGATIVE_EVENT_TEXT)

_RANK = {intent: i for i, intent in enumerate(PATTERNS)}  # detect_intents lists hits in PATTERNS order
assert next(iter(PATTERNS)) == "question"  # a '?' question goes first
_HITS: dict[tuple[str, str, str], IntentHit] = {}


def _hit(intent: str, lang: str, match: str) -> IntentHit:
    """IntentHit(intent, lang, match), made once per distinct hit (it is immutable): the
    same few keywords make most hits, and a frozen dataclass costs a setattr call per field."""
    key = (intent, lang, match)
    found = _HITS.get(key)
    if found is None:
        if len(_HITS) > 50_000:
            _HITS.clear()
        found = _HITS[key] = IntentHit(intent, lang, match)
    return found


def detect_intents(norm: str, lang: str) -> list[IntentHit]:
    """Every intent found in normalized text, first match per intent; '?' is a question."""
    by_lang, together = _scanners()
    if lang == "en":
        found = by_lang["en"].first_matches(norm)
        if not found:  # the usual case: nothing but perhaps a question mark
            return [_hit("question", lang, "?")] if "?" in norm else []
        hits = [_hit(intent, "en", found[intent]) for intent in sorted(found, key=_RANK.__getitem__)]
    else:
        langs = LANGUAGES if lang not in LANGUAGES else (lang, "en")
        founds = together[langs].first_matches(norm)
        per_lang = [(code, found) for code, found in zip(langs, founds, strict=True) if found]
        if not per_lang:
            return [_hit("question", lang, "?")] if "?" in norm else []
        found = per_lang[0][1] if len(per_lang) == 1 else {}
        if not found:  # each intent's match from the first language that has one
            for _, theirs in reversed(per_lang):
                found.update(theirs)
        codes = {intent: code for code, theirs in reversed(per_lang) for intent in theirs}
        hits = [_hit(intent, codes[intent], found[intent]) for intent in sorted(found, key=_RANK.__getitem__)]
    if "question" not in found and "?" in norm:
        hits.insert(0, _hit("question", lang, "?"))
    if "double_charge" in found and "billing" not in found:
        hits.append(_hit("billing", lang, found["double_charge"]))
    return hits


def sarcasm(norm: str, intents: Iterable[str]) -> str | None:
    """The words that make a positive phrase read as sarcastic, or None."""
    if any(map(norm.__contains__, MARKER_CLUES)):
        marker = _SARCASM_MARKERS.search(norm)
        if marker:
            return marker
    if _NEGATIVE_EVENT_INTENTS.isdisjoint(intents):  # cheapest test first
        return None
    positive = _POSITIVE_RE.search(norm)
    if positive is None:
        return None
    event = _NEGATIVE_EVENT_WORDS.search(norm)
    return f"{positive} ... {event}" if event is not None else None
