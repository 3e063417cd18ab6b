//! El texto de los usuarios tal como lo verán los demás: los nombres que
//! se confunden en la pantalla ([`name_skeleton`]) y los mensajes, sin nada
//! que pueda pasar por una línea del servidor ([`render_text`]). Es parte
//! de [`crate::curso::protocolo`]: puro, sin E/S.

use super::EMOJIS;

/// El "esqueleto" de un nombre: cómo se ve, más que cómo se escribe. En
/// minúsculas, sin acentos (`é` → `e`, `ñ` → `n`), y con los parecidos de
/// siempre unificados: `i`, `l` y `1` → `l` (una `I` mayúscula se ve como
/// una `l`), `0` → `o`, `rn` → `m`, `vv` → `w`. Dos nombres con el mismo
/// esqueleto se confunden en la pantalla: `aIice` y `alice`, `rnallory` y
/// `mallory`, `José` y `Jose`. Es la idea de los *confusable skeletons* de
/// Unicode TR39, reducida a las letras que permite [`check_name`](super::check_name).
pub fn name_skeleton(name: &str) -> String {
    let plain: String = name
        .to_lowercase()
        .chars()
        .map(|c| match c {
            'á' => 'a',
            'é' => 'e',
            'í' | 'i' | '1' => 'l',
            'ó' | '0' => 'o',
            'ú' | 'ü' => 'u',
            'ñ' => 'n',
            c => c,
        })
        .collect();
    plain.replace("rn", "m").replace("vv", "w")
}

/// Prepara el texto de un mensaje tal como lo verán los demás, para que
/// nada en él pueda pasar por una línea del servidor o un privado ajeno:
///
/// - quita los caracteres de control (un `ESC` podría manejar la terminal
///   ajena, un `\r` volvería al principio de la línea para escribir
///   `[SERVER]` encima del nombre), los de dirección del texto
///   ([`is_bidi_control`]) y los invisibles ([`is_invisible`]: los que
///   Unicode dice que no se dibujan, rellenos y caracteres de formato);
/// - junta cada tramo de lo que se ve en blanco ([`looks_blank`]: espacios,
///   tabuladores, espacios de otros anchos, el braille vacío) en **un**
///   espacio y quita los de los extremos: con 80 espacios, un texto falso
///   empezaría en la columna 0 de la línea siguiente de una terminal de 80
///   columnas;
/// - reemplaza cada emoji que aparece como palabra completa (`:smile` →
///   `:~)`).
///
/// Devuelve el texto listo; puede quedar vacío si solo había controles o
/// espacio.
pub fn render_text(text: &str) -> String {
    // Los controles que son espacio (el tabulador) cuentan como espacio.
    // Ningún carácter ASCII es de formato ni invisible: para ellos (casi
    // todo el texto de un chat) no se consultan las tablas de Unicode.
    let hidden = |c: char| {
        (c.is_control() && !c.is_whitespace())
            || (!c.is_ascii() && (is_bidi_control(c) || is_invisible(c)))
    };
    let clean: String = text.chars().filter(|&c| !hidden(c)).collect();
    clean
        .split(looks_blank)
        .filter(|word| !word.is_empty())
        .map(|word| {
            EMOJIS
                .iter()
                .find(|(emoji, _)| *emoji == word)
                .map_or(word, |(_, face)| *face)
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// `true` para lo que una terminal dibuja como espacio en blanco: los
/// caracteres con la propiedad `White_Space` de Unicode (es lo que mira
/// [`char::is_whitespace`]: el espacio, el tabulador, U+00A0, U+2000 a
/// U+200A, U+3000, los separadores de línea y de párrafo...) y U+2800, el
/// braille sin puntos, que Unicode no cuenta como espacio pero se ve igual.
pub fn looks_blank(c: char) -> bool {
    c.is_whitespace() || c == '\u{2800}'
}

/// `true` para los caracteres que no se ven pero ocupan (o parten) el
/// texto, y se quitan:
///
/// - los que Unicode marca `Default_Ignorable_Code_Point` (UAX #44, los
///   que un programa que no los entiende no dibuja): los de ancho cero
///   (U+200B a U+200D, U+2060 a U+2064, U+FEFF), el guion opcional
///   (U+00AD), los rellenos de Hangul que se ven como espacio (U+115F,
///   U+1160, U+3164, U+FFA0), los selectores de variante y las etiquetas;
/// - los de formato (categoría general `Cf`), como los de anotación
///   interlineal (U+FFF9 a U+FFFB), que algunas terminales muestran en
///   blanco.
///
/// También se quita así el ZWJ (U+200D), que une emojis en uno (la
/// familia 👨‍👩‍👧 se ve como tres caras): una familia partida es mejor
/// que un texto que engaña. Se busca en [`INVISIBLE`] (búsqueda binaria
/// entre 25 tramos).
pub fn is_invisible(c: char) -> bool {
    INVISIBLE
        .binary_search_by(|&(first, last)| {
            if last < c {
                std::cmp::Ordering::Less
            } else if first > c {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        })
        .is_ok()
}

/// Los caracteres invisibles de [`is_invisible`], en tramos ordenados (el
/// primero y el último de cada uno, incluidos): la unión de
/// `Default_Ignorable_Code_Point` y la categoría `Cf` según los datos de
/// Unicode (UAX #44). Es una tabla de datos, no un juicio: la prueba
/// `the_invisible_table_is_unicodes` la compara, tramo por tramo, con la de
/// `icu_properties` (del proyecto ICU4X del Consorcio Unicode) y, si una
/// versión nueva de Unicode la cambia, falla e imprime la tabla nueva para
/// pegarla aquí. Así el servidor no carga con esa biblioteca.
pub const INVISIBLE: &[(char, char)] = &[
    ('\u{00AD}', '\u{00AD}'),
    ('\u{034F}', '\u{034F}'),
    ('\u{0600}', '\u{0605}'),
    ('\u{061C}', '\u{061C}'),
    ('\u{06DD}', '\u{06DD}'),
    ('\u{070F}', '\u{070F}'),
    ('\u{0890}', '\u{0891}'),
    ('\u{08E2}', '\u{08E2}'),
    ('\u{115F}', '\u{1160}'),
    ('\u{17B4}', '\u{17B5}'),
    ('\u{180B}', '\u{180F}'),
    ('\u{200B}', '\u{200F}'),
    ('\u{202A}', '\u{202E}'),
    ('\u{2060}', '\u{206F}'),
    ('\u{3164}', '\u{3164}'),
    ('\u{FE00}', '\u{FE0F}'),
    ('\u{FEFF}', '\u{FEFF}'),
    ('\u{FFA0}', '\u{FFA0}'),
    ('\u{FFF0}', '\u{FFFB}'),
    ('\u{110BD}', '\u{110BD}'),
    ('\u{110CD}', '\u{110CD}'),
    ('\u{13430}', '\u{1343F}'),
    ('\u{1BCA0}', '\u{1BCA3}'),
    ('\u{1D173}', '\u{1D17A}'),
    ('\u{E0000}', '\u{E0FFF}'),
];

/// `true` para los caracteres invisibles que cambian la dirección del
/// texto (Unicode UAX #9: LRM, RLM, ALM, LRE...RLO, LRI...PDI). Con un
/// `U+202E` (RLO), `alice: ]REVRES[` se vería al revés en la terminal ajena.
pub fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}
