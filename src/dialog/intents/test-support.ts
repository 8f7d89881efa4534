/**
 * Intent sets shaped like the shipped flows, for the classifier tests and the
 * benchmark: a support desk in English and French, and a French lead line
 * with its FAQ (30 intents).
 */
import type { IntentDefinition } from '../types.js';

export const SUPPORT_DESK: IntentDefinition[] = [
  {
    name: 'YES',
    examples: {
      en: ['yes', 'yes please', "that's right", 'correct', 'sure', 'yes it is'],
      fr: ['oui', 'oui bien sûr', "d'accord", "c'est ça", 'tout à fait', 'exactement'],
    },
  },
  {
    name: 'NO',
    examples: {
      en: ['no', 'no thanks', 'not at all', "that's wrong", 'no it is not'],
      fr: ['non', 'non merci', 'pas du tout', "ce n'est pas ça", "non c'est pas ça"],
    },
  },
  {
    name: 'IDENTITY_PROVIDED',
    examples: {
      en: ['my name is John Smith', "I'm Sarah Connor", 'this is Paul Martin', 'it is Mary Jones speaking'],
      fr: ["je m'appelle Jean Dupont", 'mon nom est Marie Curie', "c'est Madame Martin", 'je suis monsieur Durand'],
    },
  },
  {
    name: 'EMAIL_PROVIDED',
    examples: {
      en: ['my email is john dot smith at gmail dot com', 'it is mary at example dot com', 'my email address is paul at acme dot org'],
      fr: ['mon email est jean point dupont arobase gmail point com', "c'est marie arobase orange point fr", 'mon adresse mail est paul arobase free point fr'],
    },
    keywords: { en: ['at gmail', 'dot com', 'email'], fr: ['arobase', 'point com', 'point fr', 'email', 'mail'] },
  },
  {
    name: 'INTERNET_ISSUE',
    examples: {
      en: ['my internet is not working', 'I have no internet connection', 'the internet is down', 'my wifi keeps dropping', 'the connection is very slow', 'my router has a red light'],
      fr: ['internet ne marche pas', "je n'ai plus de connexion internet", 'ma box ne fonctionne plus', 'le wifi coupe tout le temps', 'la connexion est très lente', 'ma box clignote en rouge'],
    },
    keywords: { en: ['internet', 'wifi', 'router', 'broadband'], fr: ['internet', 'wifi', 'box', 'connexion'] },
  },
  {
    name: 'MOBILE_ISSUE',
    examples: {
      en: ['my phone has no signal', 'I cannot make calls on my mobile', 'my mobile is not working', 'no network on my cell phone', 'I cannot send text messages'],
      fr: ['mon portable ne capte pas', "je ne peux pas appeler avec mon mobile", 'mon mobile ne marche plus', 'pas de réseau sur mon téléphone portable', "je n'arrive pas à envoyer de sms"],
    },
    keywords: { en: ['mobile', 'cell phone', 'signal', 'text messages'], fr: ['portable', 'mobile', 'réseau', 'sms'] },
  },
  {
    name: 'MODIFICATION_REQUEST',
    examples: {
      en: ['I want to change my plan', 'I would like to modify my subscription', 'I need to update my address', 'can I change my contract', 'I want to upgrade my offer'],
      fr: ['je veux changer mon forfait', 'je voudrais modifier mon abonnement', 'je dois changer mon adresse', 'je peux changer de contrat', 'je veux passer à une offre supérieure'],
    },
    keywords: { en: ['change my plan', 'subscription', 'upgrade'], fr: ['forfait', 'abonnement', 'modifier'] },
  },
  {
    name: 'REPEAT',
    examples: { en: ['can you repeat', 'say that again', 'sorry what did you say', 'pardon'], fr: ['vous pouvez répéter', 'pardon', 'répétez s’il vous plaît', "qu'est-ce que vous avez dit"] },
  },
  {
    name: 'HUMAN',
    examples: {
      en: ['I want to speak to a human', 'let me talk to an agent', 'can I speak to a real person', 'operator'],
      fr: ['je veux parler à un conseiller', 'passez-moi quelqu’un', 'je voudrais parler à une vraie personne', 'un humain s’il vous plaît'],
    },
    keywords: { en: ['agent', 'human', 'real person', 'operator'], fr: ['conseiller', 'humain', 'vraie personne'] },
  },
  {
    name: 'GOODBYE',
    examples: { en: ['goodbye', 'bye', 'that is all thank you', 'have a nice day'], fr: ['au revoir', 'bonne journée', "c'est tout merci", 'à bientôt'] },
  },
];

const fr = (name: string, examples: string[], keywords?: string[], description?: string): IntentDefinition => ({
  name,
  examples: { fr: examples },
  ...(keywords ? { keywords: { fr: keywords } } : {}),
  ...(description ? { description } : {}),
});

/** 30 intents: the heating-leads states' intents, globals and FAQ. */
export const HEATING_LEADS: IntentDefinition[] = [
  fr('ok_eligibility', ['oui je veux savoir si je suis éligible', 'oui allez-y', "d'accord je vous écoute", 'oui ça m’intéresse', 'oui vérifions', 'oui je veux bien', 'oui pourquoi pas', 'allez-y je vous écoute']),
  fr('ok_zipcode', ['mon code postal est le 75001', "c'est le soixante-quinze zéro zéro un", 'code postal trente et un deux cents', "j'habite au treize cent", 'soixante-neuf zéro zéro trois', 'le code postal c’est 44000'], ['code postal']),
  fr('ok_proprio', ['je suis propriétaire', 'oui je suis propriétaire', "c'est ma maison", 'nous sommes propriétaires', 'oui la maison est à moi', 'propriétaire oui', 'on est propriétaires de la maison'], ['propriétaire', 'propriétaires']),
  fr('not_proprio', ['je suis locataire', 'je ne suis pas propriétaire', 'je loue', "c'est une location", 'non je suis en location', 'on loue un appartement', "la maison n'est pas à moi"], ['locataire', 'location']),
  fr('which_help', ['quelles aides', "c'est quoi comme aide", 'de quelle aide vous parlez', 'quelle subvention', 'quelles sont les aides', "c'est quelle prime"], ['aide', 'aides', 'subvention', 'prime']),
  fr('zipcode_why', ['pourquoi vous voulez mon code postal', 'pourquoi le code postal', "c'est pour quoi faire", 'pourquoi vous demandez ça', 'à quoi ça sert', 'en quoi ça vous regarde']),
  fr('ok_callback', ['oui rappelez-moi', 'oui vous pouvez me rappeler', 'oui je veux être rappelé', "d'accord pour être rappelé", 'oui un conseiller peut me rappeler', 'oui rappelez moi demain']),
  fr('no_callback', ['non ne me rappelez pas', 'je ne veux pas être rappelé', 'non pas de rappel', 'pas la peine de me rappeler', 'non merci pas besoin de rappel']),
  fr('not_in_france', ["je n'habite pas en France", 'je vis en Belgique', 'je suis en Suisse', "j'habite à l'étranger", 'je suis au Canada', 'je ne suis pas en France'], ['belgique', 'suisse', 'étranger', 'canada', 'luxembourg']),
  fr('busy', ["je n'ai pas le temps", 'je suis occupé', 'rappelez plus tard', 'je suis au travail', 'pas maintenant je conduis', 'je suis en réunion'], ['occupé', 'pas le temps', 'en réunion', 'je conduis']),
  fr('not_interested', ['ça ne m’intéresse pas', 'je ne suis pas intéressé', 'non merci ça ne m’intéresse pas', 'pas intéressé', 'arrêtez de m’appeler', 'je ne veux rien'], ['intéresse pas', 'pas intéressé']),
  fr('heating_gas', ['je me chauffe au gaz', 'chauffage au gaz', "j'ai une chaudière gaz", 'au gaz naturel'], ['gaz']),
  fr('heating_oil', ['je me chauffe au fioul', "j'ai une chaudière au fioul", 'chauffage au mazout', 'au fuel'], ['fioul', 'fuel', 'mazout']),
  fr('heating_electric', ['je me chauffe à l’électricité', "j'ai des radiateurs électriques", 'chauffage électrique', 'des convecteurs'], ['électrique', 'électricité', 'convecteurs']),
  fr('heating_wood', ['je me chauffe au bois', "j'ai un poêle à bois", 'une cheminée', 'poêle à granulés'], ['bois', 'poêle', 'granulés', 'cheminée']),
  fr('faq_who_are_you', ['qui êtes-vous', 'vous appelez de la part de qui', "c'est quelle société", 'vous êtes qui', 'quel est le nom de votre entreprise']),
  fr('faq_how_got_number', ['comment avez-vous eu mon numéro', 'où avez-vous trouvé mon numéro', 'qui vous a donné mon numéro', 'comment vous avez mon téléphone']),
  fr('faq_price', ['combien ça coûte', "c'est quoi le prix", 'quel est le tarif', 'ça va me coûter combien', 'le coût des travaux'], ['prix', 'tarif', 'coûte', 'coût']),
  fr('faq_is_it_free', ["c'est gratuit", 'est-ce que c’est payant', 'je dois payer quelque chose', 'il y a des frais'], ['gratuit', 'payant', 'frais']),
  fr('faq_heat_pump', ["c'est quoi une pompe à chaleur", 'comment marche une pompe à chaleur', 'une pompe à chaleur ça fonctionne comment', 'la pac c’est quoi'], ['pompe à chaleur']),
  fr('faq_savings', ['je vais économiser combien', 'quelles économies', 'ça fait baisser la facture', 'on économise vraiment'], ['économies', 'économiser', 'facture']),
  fr('faq_works_duration', ['les travaux durent combien de temps', 'ça prend combien de temps', "combien de temps pour l'installation", 'la durée des travaux'], ['combien de temps', 'durée']),
  fr('faq_guarantee', ['il y a une garantie', "c'est garanti combien de temps", 'quelle est la garantie', 'et si ça tombe en panne'], ['garantie', 'garanti']),
  fr('faq_scam', ["c'est une arnaque", 'vous êtes des arnaqueurs', 'ça sent l’arnaque', "c'est du démarchage"], ['arnaque', 'arnaqueurs', 'démarchage']),
  fr('faq_data_privacy', ['que faites-vous de mes données', 'mes données personnelles', 'vous gardez mes informations', 'le rgpd'], ['données', 'rgpd']),
  fr('faq_remove_list', ['retirez-moi de votre liste', 'supprimez mon numéro', 'je ne veux plus être appelé', 'effacez mes coordonnées'], ['liste', 'supprimez', 'retirez']),
  fr('faq_conditions', ['quelles sont les conditions', "c'est sous conditions de revenus", 'il faut remplir des conditions', 'qui a droit à ces aides'], ['conditions', 'revenus']),
  fr('repeat', ['vous pouvez répéter', 'pardon', 'répétez s’il vous plaît', "je n'ai pas compris", "qu'est-ce que vous avez dit"], ['répéter', 'répétez']),
  fr('human', ['je veux parler à un conseiller', 'passez-moi quelqu’un', 'je voudrais parler à une vraie personne', 'un humain s’il vous plaît', 'vous êtes un robot'], ['conseiller', 'humain', 'robot']),
  fr('goodbye', ['au revoir', 'bonne journée', "c'est tout merci", 'à bientôt', 'bonne soirée'], ['au revoir']),
];
