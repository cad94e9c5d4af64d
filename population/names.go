package population

import "strings"

// Name and place lists, written for this package. Two thirds of the population carry French names, one
// third English names; everyone lives in France (the server's identifiers, INS and RPPS, are French).

var (
	frenchMale = []string{
		"Louis", "Gabriel", "Jules", "Hugo", "Arthur", "Lucas", "Nathan", "Théo", "Paul", "Antoine",
		"Julien", "Nicolas", "Mathieu", "Pierre", "Thomas", "Maxime", "Alexandre", "Baptiste", "Étienne",
		"François", "Olivier", "Philippe", "Michel", "Jean", "Yves", "Rémi", "Sébastien", "Guillaume",
		"Benoît", "Raphaël", "Clément", "Vincent", "Denis", "Marc", "Gérard",
	}
	frenchFemale = []string{
		"Camille", "Léa", "Manon", "Chloé", "Emma", "Inès", "Louise", "Juliette", "Zoé", "Sarah", "Amélie",
		"Céline", "Margaux", "Élodie", "Aurélie", "Sophie", "Isabelle", "Nathalie", "Sylvie", "Catherine",
		"Monique", "Françoise", "Hélène", "Claire", "Anaïs", "Mathilde", "Pauline", "Lucie", "Agathe",
		"Marion", "Brigitte", "Valérie", "Jeanne", "Noémie", "Odile",
	}
	frenchFamily = []string{
		"Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy", "Moreau",
		"Simon", "Laurent", "Lefebvre", "Michel", "Garcia", "David", "Bertrand", "Roux", "Vincent",
		"Fournier", "Morel", "Girard", "André", "Lefèvre", "Mercier", "Dupont", "Lambert", "Bonnet",
		"François", "Martinez", "Legrand", "Garnier", "Faure", "Rousseau", "Blanc", "Guérin", "Muller",
		"Henry", "Roussel", "Nicolas", "Perrin", "Morin", "Mathieu", "Clément", "Gauthier", "Dumont",
		"Lopez", "Fontaine", "Chevalier", "Robin", "Masson", "Sanchez", "Boyer", "Denis", "Lemaire",
		"Duval", "Joly", "Gautier", "Roger", "Roche", "Roy", "Noël", "Meyer", "Lucas", "Meunier", "Jean",
		"Perez", "Marchand", "Dufour", "Blanchard", "Barbier", "Brun", "Dumas", "Brunet", "Schmitt",
	}
	englishMale = []string{
		"James", "Oliver", "William", "Henry", "George", "Jack", "Harry", "Charlie", "Thomas", "Daniel",
		"Samuel", "Joseph", "Benjamin", "Edward", "Michael", "David", "Andrew", "Peter", "Robert",
		"Christopher", "Matthew", "Richard", "Anthony", "Stephen", "Patrick",
	}
	englishFemale = []string{
		"Olivia", "Amelia", "Isla", "Emily", "Sophie", "Grace", "Charlotte", "Lily", "Hannah", "Jessica",
		"Elizabeth", "Rachel", "Laura", "Rebecca", "Katherine", "Margaret", "Helen", "Susan", "Alice",
		"Victoria", "Eleanor", "Abigail", "Natalie", "Ruth", "Joanna",
	}
	englishFamily = []string{
		"Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies", "Robinson",
		"Wright", "Thompson", "Evans", "Walker", "White", "Roberts", "Green", "Hall", "Wood", "Jackson",
		"Clarke", "Harris", "Lewis", "Turner", "Hughes", "Edwards", "Cooper", "Baker", "Parker", "Morgan",
		"Bennett", "Carter", "Mitchell", "Phillips", "Campbell", "Stewart", "Murphy", "Kelly", "Price",
	}
)

// city is a French town and one of its postal codes (whose first two digits are the département).
type city struct {
	name, postalCode string
}

var cities = []city{
	{"Paris", "75011"}, {"Paris", "75015"}, {"Paris", "75018"}, {"Lyon", "69003"}, {"Lyon", "69007"},
	{"Marseille", "13005"}, {"Marseille", "13008"}, {"Toulouse", "31000"}, {"Nantes", "44000"},
	{"Bordeaux", "33000"}, {"Lille", "59000"}, {"Strasbourg", "67000"}, {"Rennes", "35000"},
	{"Montpellier", "34000"}, {"Nice", "06000"}, {"Grenoble", "38000"}, {"Dijon", "21000"},
	{"Angers", "49000"}, {"Reims", "51100"}, {"Tours", "37000"}, {"Brest", "29200"}, {"Limoges", "87000"},
	{"Amiens", "80000"}, {"Clermont-Ferrand", "63000"}, {"Rouen", "76000"}, {"Caen", "14000"},
	{"Metz", "57000"}, {"Besançon", "25000"}, {"Orléans", "45000"}, {"Poitiers", "86000"},
	{"La Rochelle", "17000"}, {"Pau", "64000"}, {"Nîmes", "30000"}, {"Perpignan", "66000"},
	{"Annecy", "74000"}, {"Le Mans", "72000"}, {"Saint-Étienne", "42000"}, {"Villeurbanne", "69100"},
	{"Versailles", "78000"}, {"Boulogne-Billancourt", "92100"},
}

var (
	streetKinds = []string{"rue", "rue", "rue", "avenue", "boulevard", "place", "allée", "chemin", "impasse"}
	streetNames = []string{
		"des Lilas", "Victor Hugo", "de la République", "Jean Jaurès", "du Moulin", "des Écoles", "Pasteur",
		"de la Gare", "du Château", "des Tilleuls", "Gambetta", "Voltaire", "de l'Église", "du Port",
		"des Vignes", "Saint-Michel", "de la Paix", "des Acacias", "Émile Zola", "du Marché", "des Peupliers",
		"de la Fontaine", "du Général Leclerc", "des Roses", "de Verdun", "Jules Ferry", "du Stade",
		"des Cerisiers", "de la Liberté", "Anatole France",
	}
)

// Care organisations are named "<kind> <qualifier>"; the qualifiers are distinct, so are the names.
var (
	orgKinds      = []string{"Hôpital", "Clinique", "Centre hospitalier", "Polyclinique", "Maison de santé", "Centre de santé"}
	orgQualifiers = []string{
		"du Parc", "des Tilleuls", "de la Vallée", "Pasteur", "Les Cèdres", "du Littoral", "Bellevue",
		"des Quatre Vents", "du Val Fleuri", "Jean Moulin", "Les Oliviers", "du Lac", "des Collines",
		"Marie Curie", "de l'Estuaire", "des Remparts", "Les Glycines", "du Belvédère", "Montaigne",
		"des Sources",
	}
	insurerNames = []string{
		"Mutuelle Horizon", "Prévoyance de l'Ouest", "Alliance Santé Assurances", "Mutuelle des Quatre Saisons",
		"Assurance Santé Confiance",
	}
)

// asciiFold turns a name into the ASCII, lower-case form used in e-mail addresses.
func asciiFold(s string) string {
	var b strings.Builder
	for _, c := range strings.ToLower(s) {
		switch c {
		case 'à', 'â', 'ä':
			b.WriteByte('a')
		case 'é', 'è', 'ê', 'ë':
			b.WriteByte('e')
		case 'î', 'ï':
			b.WriteByte('i')
		case 'ô', 'ö':
			b.WriteByte('o')
		case 'ù', 'û', 'ü':
			b.WriteByte('u')
		case 'ç':
			b.WriteByte('c')
		case 'ÿ':
			b.WriteByte('y')
		case 'œ':
			b.WriteString("oe")
		case ' ', '\'':
			b.WriteByte('-')
		default:
			if c < 0x80 {
				b.WriteRune(c)
			}
		}
	}
	return b.String()
}
