"""Stories for the integration tests, written for this project (not taken from any outlet).

ON_TOPIC stories are about military activity on Belarus's borders with Ukraine (and one with
Poland, which the topic also covers); OFF_TOPIC ones share nothing with it."""

ON_TOPIC = [
    ("La Biélorussie masse des troupes près de la frontière ukrainienne",
     "Minsk a déployé des bataillons mécanisés et des pièces d'artillerie dans la région de Gomel, "
     "à une vingtaine de kilomètres de la frontière avec l'Ukraine, selon le porte-parole des "
     "gardes-frontières ukrainiens. Kiev a renforcé ses positions défensives dans la région de "
     "Tchernihiv et surveille les mouvements de l'armée biélorusse."),
    ("Manœuvres militaires russo-biélorusses à la frontière",
     "Les armées russe et biélorusse ont entamé des exercices militaires conjoints près de Brest, "
     "à proximité de la frontière ukrainienne. Alexandre Loukachenko a assuré que ses forces "
     "étaient prêtes à répondre à toute provocation venue d'Ukraine. Des chars et des "
     "lance-roquettes ont été acheminés par train vers la zone frontalière."),
    ("Kiev fortifie sa frontière nord face au Bélarus",
     "L'Ukraine construit des fortifications, des fossés antichars et des champs de mines le long "
     "de sa frontière avec le Bélarus, dans les régions de Volhynie et de Jytomyr, a indiqué le "
     "service national des gardes-frontières. Le commandement militaire craint une nouvelle "
     "offensive depuis le territoire biélorusse."),
    ("Des combattants de Wagner au Bélarus inquiètent Kiev",
     "Plusieurs milliers de mercenaires du groupe Wagner installés dans un camp militaire "
     "biélorusse près de la frontière ukrainienne entraînent les soldats de l'armée biélorusse, "
     "selon le renseignement ukrainien. Les gardes-frontières ukrainiens ont renforcé la "
     "surveillance de la frontière."),
    ("Un drone abattu au-dessus de la frontière biélorusse",
     "La défense antiaérienne biélorusse affirme avoir abattu un drone près de Mozyr, non loin de "
     "la frontière avec l'Ukraine. Le ministère biélorusse de la Défense accuse Kiev de violer son "
     "espace aérien et annonce le déploiement de troupes supplémentaires à la frontière."),
    ("La Pologne envoie des soldats à la frontière biélorusse",
     "Varsovie déploie des milliers de soldats supplémentaires le long de la frontière avec la "
     "Biélorussie après des incidents impliquant des gardes-frontières et la présence de "
     "mercenaires Wagner près de Grodno. Le ministre polonais de la Défense dénonce une "
     "provocation militaire du régime de Loukachenko."),
]

# Relevant, but with little of the topic's vocabulary: it scores between the shipped threshold and
# the high-confidence mark (0.70 when written, against 0.65 and 0.825).
NEAR_THRESHOLD = (
    "La Pologne prolonge la zone tampon à la frontière biélorusse",
    "Varsovie a prolongé de trois mois l'interdiction d'accès à une bande de terrain le long de la "
    "frontière avec la Biélorussie, où les patrouilles ont été renforcées après des tentatives de "
    "passage en force soutenues, selon Varsovie, par les services biélorusses.")

OFF_TOPIC = [
    ("Le PSG s'impose face à Lens au Parc des Princes",
     "Les Parisiens ont dominé la rencontre grâce à un doublé de leur attaquant et prennent une "
     "sérieuse option pour le titre de champion de France à six journées de la fin."),
    ("Inflation : les prix alimentaires reculent en octobre",
     "Selon l'Insee, les prix des produits alimentaires ont baissé de 0,4 % sur un mois, une "
     "première depuis deux ans, tandis que l'énergie continue de peser sur le budget des ménages."),
    ("Festival de Cannes : la sélection officielle dévoilée",
     "Le délégué général a présenté jeudi les vingt films en compétition, dont trois premiers "
     "longs métrages et deux documentaires, devant une salle comble."),
    ("Météo : un week-end ensoleillé sur la moitié sud",
     "Les températures dépasseront 25 degrés de Bordeaux à Marseille, tandis que des averses "
     "orageuses sont attendues en Bretagne et dans les Hauts-de-France."),
    ("Le télescope spatial observe une galaxie lointaine",
     "Les astronomes ont détecté la lumière d'une galaxie formée moins de quatre cents millions "
     "d'années après le Big Bang, un record qui bouscule les modèles de formation des étoiles."),
    ("Budget : l'Assemblée adopte la première partie du texte",
     "Les députés ont voté dans la nuit les recettes du projet de loi de finances après des "
     "débats tendus sur la fiscalité des entreprises et des plus hauts revenus."),
    ("Grippe : l'épidémie atteint son pic en Île-de-France",
     "Santé publique France signale une hausse des passages aux urgences pour syndrome grippal et "
     "appelle les personnes fragiles à se faire vacciner."),
    ("Un nouveau smartphone pliable présenté à Séoul",
     "Le constructeur promet une autonomie de deux jours et un écran plus résistant, pour un prix "
     "de lancement supérieur à mille huit cents euros."),
    ("Rugby : le XV de France prépare le Tournoi des Six Nations",
     "Le sélectionneur a convoqué quarante-deux joueurs pour un stage à Marcoussis, avec trois "
     "nouveaux visages en première ligne."),
    ("La SNCF annonce de nouveaux trains de nuit",
     "Des liaisons vers Nice, Toulouse et Briançon seront renforcées dès l'été, avec des voitures "
     "couchettes rénovées et des tarifs réduits pour les jeunes."),
    ("Vendanges précoces dans le Bordelais",
     "La chaleur de l'été a avancé la récolte de deux semaines ; les viticulteurs attendent un "
     "millésime de bonne qualité mais en quantité réduite."),
    ("Un musée consacré à la bande dessinée ouvre à Angoulême",
     "Planches originales, ateliers pour enfants et expositions temporaires : le nouveau lieu "
     "veut attirer cent mille visiteurs par an."),
    ("Tennis : victoire en cinq sets à Roland-Garros",
     "Après plus de quatre heures de jeu, le joueur français s'est qualifié pour les quarts de "
     "finale sous les applaudissements du court central."),
    ("Immobilier : les taux de crédit repartent à la baisse",
     "Les courtiers observent une détente des taux moyens, à 3,6 % sur vingt ans, qui pourrait "
     "relancer les ventes de logements anciens au printemps."),
]
