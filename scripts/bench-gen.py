"""bench-gen - synthetic French news feeds for scripts/bench.

Sentences are assembled from a hand-written vocabulary of French news phrasing, so every item has
its own title, guid, link and text (the content hashes differ) while reading like agency copy.
A few percent of the items are about military activity on the Belarus-Ukraine border, built from
the vocabulary of that topic, so that scoring and alerting have something to do.
"""

import gzip
import html
import os
import random
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

BASE_TIME = datetime(2026, 11, 2, 8, 0, tzinfo=timezone.utc)

# --- general news ---------------------------------------------------------------------------

SUBJECTS = [
    "Le gouvernement", "Le Premier ministre", "La ministre de l'économie", "Le président de la République",
    "L'opposition", "Le syndicat majoritaire", "La Commission européenne", "Le conseil municipal",
    "La préfecture", "Le parquet de Paris", "La Banque centrale européenne", "Le maire de Lyon",
    "Une coalition d'associations", "Le ministère de la santé", "La direction de l'entreprise",
    "Le Conseil constitutionnel", "Les agriculteurs", "Les enseignants", "Les cheminots",
    "La fédération française de football", "Le comité olympique", "Un collectif de riverains",
    "Les chercheurs du CNRS", "L'Insee", "Météo-France", "La SNCF", "Le rectorat", "L'Assemblée nationale",
    "Le Sénat", "La Cour des comptes", "Le patronat", "Une ONG de défense de l'environnement",
    "Le gouvernement espagnol", "La chancelière allemande", "Le Parlement européen", "L'Organisation mondiale de la santé",
]

VERBS = [
    "a annoncé", "a présenté", "a dénoncé", "a défendu", "a confirmé", "a démenti", "a salué",
    "a critiqué", "a reporté", "a adopté", "a rejeté", "a proposé", "a publié", "a détaillé",
    "entend réformer", "souhaite accélérer", "a promis", "a ouvert une enquête sur", "a suspendu",
    "a validé", "a remis en cause", "a mis en garde contre", "a réclamé", "a examiné",
]

OBJECTS = [
    "un plan de relance de l'industrie", "la réforme des retraites", "le budget de l'État pour l'an prochain",
    "un projet de loi sur le logement", "la hausse des prix de l'énergie", "la fermeture d'une usine",
    "un accord salarial", "la réforme de l'assurance chômage", "un nouveau dispositif d'aide aux étudiants",
    "le calendrier des travaux du tramway", "la rénovation thermique des bâtiments publics",
    "la hausse du prix des carburants", "un plan contre la sécheresse", "la révision du code du travail",
    "le financement des hôpitaux", "la stratégie nationale bas carbone", "une taxe sur les transactions",
    "la rénovation des lignes ferroviaires", "un programme de recherche sur le climat",
    "la réouverture d'une maternité", "le projet de contournement routier", "la régulation des loyers",
    "un fonds de soutien aux collectivités", "la réforme du baccalauréat", "les résultats d'un audit",
    "la candidature de la ville aux Jeux", "un nouveau traité commercial", "la protection des données",
]

TIMES = [
    "lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche", "ce matin", "hier soir",
    "en fin de journée", "à l'issue du conseil des ministres", "lors d'une conférence de presse",
    "dans un communiqué", "devant les députés", "au micro de France Inter", "dans un entretien au Monde",
]

PLACES = [
    "à Paris", "à Marseille", "à Lyon", "à Toulouse", "à Bordeaux", "à Lille", "à Nantes", "à Strasbourg",
    "à Bruxelles", "à Berlin", "à Madrid", "à Rome", "en Bretagne", "en Occitanie", "dans les Hauts-de-France",
    "en Nouvelle-Aquitaine", "en Île-de-France", "en Corse", "à Genève", "à Montréal",
]

CLAUSES = [
    "selon des sources proches du dossier", "d'après les chiffres publiés par l'Insee",
    "malgré l'opposition d'une partie de la majorité", "sous la pression des syndicats",
    "alors que les négociations piétinent depuis plusieurs semaines", "dans un contexte budgétaire tendu",
    "à quelques mois des élections municipales", "après des semaines de concertation",
    "pour la troisième fois cette année", "en réponse aux critiques de l'opposition",
    "au terme d'une longue nuit de débats", "faute d'accord entre les partenaires sociaux",
]

CONSEQUENCES = [
    "Les premières mesures devraient entrer en vigueur dès le mois prochain.",
    "Plusieurs élus ont immédiatement réclamé un débat au Parlement.",
    "Les associations de consommateurs restent prudentes et attendent des précisions.",
    "Le coût total du dispositif est estimé à plusieurs centaines de millions d'euros.",
    "Une manifestation est prévue samedi devant la préfecture.",
    "Les marchés financiers ont accueilli la nouvelle avec une relative indifférence.",
    "Le texte doit encore être examiné en commission avant son adoption définitive.",
    "Les syndicats ont appelé à une nouvelle journée de mobilisation.",
    "Les habitants concernés seront informés par courrier dans les prochains jours.",
    "Un premier bilan sera dressé à la fin de l'année.",
    "Les experts interrogés jugent l'objectif ambitieux mais atteignable.",
    "La mesure concerne environ deux millions de ménages selon le ministère.",
]

QUOTES = [
    "« Nous ne pouvons pas attendre plus longtemps », a insisté un conseiller.",
    "« C'est une étape importante, mais le chemin reste long », a estimé un responsable syndical.",
    "« Les Français attendent des résultats concrets », a souligné une porte-parole.",
    "« Rien n'est encore décidé », a tempéré un proche du dossier.",
    "« Nous serons vigilants sur la mise en œuvre », a prévenu une élue de l'opposition.",
    "« Le calendrier sera tenu », a assuré le cabinet du ministre.",
]

SPORT = [
    "Le Paris Saint-Germain s'est imposé face à l'Olympique de Marseille au terme d'un match tendu.",
    "Le XV de France prépare le Tournoi des Six Nations avec plusieurs nouveaux joueurs.",
    "La skieuse française a remporté le slalom géant de Val-d'Isère.",
    "Le Tour de France partira de Bretagne l'été prochain, a annoncé l'organisateur.",
    "Le club lyonnais a limogé son entraîneur après une série de défaites.",
    "La finale du championnat de handball se jouera à guichets fermés.",
]

CULTURE = [
    "Le festival de Cannes a dévoilé la composition de son jury.",
    "Une exposition consacrée aux impressionnistes ouvre ses portes au musée d'Orsay.",
    "Le prix Goncourt a été attribué à une romancière de quarante ans.",
    "La fréquentation des salles de cinéma a progressé de huit pour cent sur un an.",
    "Le théâtre du Châtelet rouvre après deux années de travaux.",
    "Un manuscrit inédit de Victor Hugo a été retrouvé dans une bibliothèque privée.",
]

TITLE_HEADS = [
    "Réforme", "Budget", "Logement", "Énergie", "Santé", "Transports", "Climat", "Emploi", "Éducation",
    "Justice", "Agriculture", "Industrie", "Fiscalité", "Sécurité", "Culture", "Sport", "Europe",
    "Collectivités", "Recherche", "Numérique",
]

# --- the Belarus-Ukraine border topic -------------------------------------------------------

B_SUBJECTS = [
    "Le ministère biélorusse de la défense", "Les gardes-frontières ukrainiens", "Le porte-parole du Kremlin",
    "Alexandre Loukachenko", "L'état-major ukrainien", "Le service national des gardes-frontières ukrainiens",
    "Le président Volodymyr Zelensky", "Le commandement des forces armées biélorusses",
    "Un porte-parole de l'armée ukrainienne", "Minsk", "Kiev",
]

B_VERBS = [
    "a affirmé", "a déclaré", "a annoncé", "a signalé", "a dénoncé", "a démenti", "a fait état de",
    "a mis en garde contre",
]

B_OBJECTS = [
    "un renforcement des troupes à la frontière entre le Bélarus et l'Ukraine",
    "le déploiement de nouvelles unités biélorusses près de la frontière ukrainienne",
    "des exercices militaires conjoints de la Russie et du Belarus près de la frontière",
    "l'arrivée de combattants de Wagner au Bélarus, à proximité de la frontière ukrainienne",
    "le renforcement des fortifications dans la région de Jytomyr, qui borde la Biélorussie",
    "des mouvements de blindés biélorusses dans la région de Gomel, près de la frontière",
    "le minage de la frontière nord de l'Ukraine face au Belarus",
    "la présence de forces spéciales biélorusses le long de la frontière avec l'Ukraine",
    "un survol de drones venus du territoire biélorusse dans la région de Volhynie",
    "le déploiement d'armes nucléaires tactiques russes sur le sol biélorusse",
    "des tirs d'artillerie à la frontière ukraino-biélorusse dans la région de Tchernihiv",
]

B_FACTS = [
    "Le Belarus, proche allié de la Russie, avait servi de base arrière à l'invasion de l'Ukraine en février 2022.",
    "Kiev maintient des forces près de la frontière avec le Belarus afin de prévenir toute provocation.",
    "Les gardes-frontières ukrainiens affirment ne constater aucune menace immédiate d'une offensive depuis le Bélarus.",
    "Minsk accuse l'Ukraine de concentrer des troupes, des armes et des équipements militaires près de sa frontière.",
    "Alexandre Loukachenko a ordonné le déploiement de nouvelles unités dans le sud du pays, le long de la frontière.",
    "Selon l'état-major ukrainien, des bataillons biélorusses ont été déplacés vers les régions de Gomel et de Brest.",
    "Le Kremlin a rappelé que le Belarus faisait partie d'un État de l'Union avec la Russie.",
    "Les gardes-frontières ukrainiens ont renforcé la surveillance de la frontière nord avec le Bélarus.",
    "Des combattants du groupe Wagner mènent des exercices avec l'armée biélorusse près de la frontière polonaise et ukrainienne.",
    "L'Ukraine a construit des fortifications et posé des mines le long de sa frontière avec la Biélorussie.",
]

B_TITLES = [
    "Frontière biélorusse : Kiev renforce ses défenses",
    "Le Bélarus déploie des troupes près de la frontière ukrainienne",
    "Minsk accuse Kiev de masser des troupes à la frontière",
    "Exercices militaires russo-biélorusses près de l'Ukraine",
    "Wagner au Bélarus : inquiétude à la frontière ukrainienne",
    "Tensions à la frontière entre l'Ukraine et la Biélorussie",
]


def _x(s):
    return html.escape(s, quote=True)


def _agree(subject, verb):
    """The verb in the plural after a plural subject ("Les agriculteurs ont rejeté")."""
    if not subject.startswith(("Les ", "les ")):
        return verb
    if verb.startswith("a "):
        return "ont " + verb[2:]
    head, _, rest = verb.partition(" ")
    return f"{head}{'nt' if head.endswith('e') else 'ent'} {rest}"


def _clause(r, subjects, verbs, objects):
    subject = r.choice(subjects)
    return subject, _agree(subject, r.choice(verbs)), r.choice(objects)


def _sentence(r):
    k = r.random()
    if k < 0.55:
        subj, verb, obj = _clause(r, SUBJECTS, VERBS, OBJECTS)
        s = f"{subj} {verb} {obj} {r.choice(TIMES)} {r.choice(PLACES)}"
        if r.random() < 0.5:
            s += f", {r.choice(CLAUSES)}"
        return s + "."
    if k < 0.75:
        return r.choice(CONSEQUENCES)
    if k < 0.85:
        return r.choice(QUOTES)
    if k < 0.93:
        return r.choice(SPORT)
    return r.choice(CULTURE)


def _border_sentence(r):
    k = r.random()
    if k < 0.5:
        subj, verb, obj = _clause(r, B_SUBJECTS, B_VERBS, B_OBJECTS)
        return f"{subj} {verb} {obj} {r.choice(TIMES)}."
    if k < 0.9:
        return r.choice(B_FACTS)
    return _sentence(r)


def _text(r, serial, border, size):
    """About size bytes of paragraphs; the serial number makes every text distinct."""
    paras, para, n = [], [], 0
    gen = _border_sentence if border else _sentence
    para.append(f"(Dépêche n° {serial})")
    while n < size:
        s = gen(r)
        para.append(s)
        n += len(s.encode()) + 1
        if len(para) >= r.randint(3, 6):
            paras.append(" ".join(para))
            para = []
    if para:
        paras.append(" ".join(para))
    return "".join(f"<p>{p}</p>" for p in paras)


def write_feeds(root, nfeeds, nitems, border_share=0.03, seed=20261102, desc_bytes=1350):
    """Writes feed00000.xml... (and each one gzip-compressed, .xml.gz) into root; returns (file
    names, border item count, total bytes of XML)."""
    r = random.Random(seed)
    names, border_total, total = [], 0, 0
    for f in range(nfeeds):
        name = f"feed{f:05d}.xml"
        host = f"news{f % 97}.example.fr"
        out = ['<?xml version="1.0" encoding="UTF-8"?>',
               '<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/">', "<channel>",
               f"<title>Actualités {f}</title><link>https://{host}/</link>",
               f"<description>Fil d'actualités n° {f}</description><language>fr</language>"]
        for i in range(nitems):
            serial = f * nitems + i
            border = r.random() < border_share
            border_total += border
            if border:
                title = f"{r.choice(B_TITLES)} ({serial})"
            else:
                subj, verb, obj = _clause(r, SUBJECTS, VERBS, OBJECTS)
                title = f"{r.choice(TITLE_HEADS)} : {subj} {verb} {obj} ({serial})"
            date = BASE_TIME - timedelta(minutes=serial % 20000)
            link = f"https://{host}/{'monde' if border else 'france'}/article-{serial}.html"
            out.append("<item>")
            out.append(f"<title>{_x(title)}</title><link>{_x(link)}</link>")
            out.append(f'<guid isPermaLink="false">urn:bench:{serial}</guid>')
            out.append(f"<pubDate>{format_datetime(date)}</pubDate>")
            out.append("<dc:creator>Rédaction</dc:creator>")
            out.append(f"<description>{_x(_text(r, serial, border, desc_bytes))}</description>")
            out.append("</item>")
        out.append("</channel></rss>\n")
        data = "\n".join(out).encode()
        with open(os.path.join(root, name), "wb") as fh:
            fh.write(data)
        # Compressed once, as news sites' servers and CDNs keep them (the feed server's
        # gzip_static): compressing each response would make the server cost more CPU than
        # the tools measured on these 2 cores.
        with open(os.path.join(root, name + ".gz"), "wb") as fh:
            fh.write(gzip.compress(data, compresslevel=6, mtime=0))
        total += len(data)
        names.append(name)
    return names, border_total, total
