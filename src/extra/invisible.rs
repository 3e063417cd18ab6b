//! Lo que no se ve en un mensaje, en el programa completo: además de los
//! controles que quita el curso (`protocolo::render_text`), los caracteres
//! que cambian la dirección del texto ([`is_bidi_control`]), los invisibles
//! de Unicode ([`is_invisible`]) y lo que se dibuja en blanco sin ser
//! espacio ([`looks_blank`]). Sin esto, `ok` + 80 braille vacíos +
//! `[SERVER] Client: ...` empezaría un aviso falso en la columna 0 de la
//! línea siguiente de una terminal ajena, y un U+202E daría vuelta un
//! `[SERVER]` escrito al revés. Se enchufa como `Guard::render`; el cliente
//! completo muestra `Me: ...` con la misma regla. Puro, sin E/S.

use crate::curso::protocolo::render_with;

/// El texto de un mensaje tal como lo verán los demás, en el programa
/// completo: el de `protocolo::render_text`, y además sin caracteres de
/// dirección del texto ni invisibles, y con lo que se ve en blanco junto
/// como espacio.
pub fn render_text(text: &str) -> String {
    // Ningún carácter ASCII es de formato ni invisible: para ellos (casi
    // todo el texto de un chat) no se consultan las tablas de Unicode.
    let hidden = |c: char| {
        (c.is_control() && !c.is_whitespace())
            || (!c.is_ascii() && (is_bidi_control(c) || is_invisible(c)))
    };
    render_with(text, &hidden, &looks_blank)
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

#[cfg(test)]
mod tests {
    use super::*;
    use icu_properties::props::{DefaultIgnorableCodePoint, GeneralCategory};
    use icu_properties::{CodePointMapData, CodePointSetData};

    #[test]
    fn control_characters_are_removed() {
        assert_eq!(render_text("ho\x1b[2Jla\x07\r"), "ho[2Jla");
        assert_eq!(render_text("a\tb"), "a b");
        assert_eq!(render_text("\u{9b}31m ñandú"), "31m ñandú");
        assert_eq!(
            render_text("\u{202E}]REVRES[\u{2066}x\u{200F}"),
            "]REVRES[x"
        );
    }

    #[test]
    fn whitespace_collapses_and_invisible_characters_go() {
        // Con 80 espacios, el texto falso empezaría en la columna 0.
        let spoof = format!(
            "ok{}[SERVER] Client: carol transferred 5000 dollars to you.{}[PRIVATE] carol: hola",
            " ".repeat(78),
            "\u{3000}\u{00A0}\t ".repeat(20)
        );
        assert_eq!(
            render_text(&spoof),
            "ok [SERVER] Client: carol transferred 5000 dollars to you. [PRIVATE] carol: hola"
        );
        assert_eq!(render_text("  hola   mundo  "), "hola mundo");
        assert_eq!(
            render_text("a\u{2028}[SERVER] b\u{2029}c"),
            "a [SERVER] b c"
        );
        assert_eq!(
            render_text("\u{200B}a\u{200C}\u{200D}b\u{2060}c\u{FEFF}\u{00AD}d\u{3164}"),
            "abcd"
        );
        assert_eq!(render_text("\u{3164} \u{200B} "), "");
        // Los emojis siguen funcionando entre espacios juntados.
        assert_eq!(render_text("hola   :smile\t:angry"), "hola :~) >:(");
        assert_eq!(render_text("ñandú José"), "ñandú José");
    }

    /// Todo carácter que se ve en blanco, o no se ve, se junta como un
    /// espacio o se quita: se recorre la lista entera, tomada de los datos
    /// de Unicode (no de la implementación): `White_Space`,
    /// `Default_Ignorable_Code_Point`, la categoría `Cf`, el braille vacío y
    /// los rellenos de Hangul.
    /// [`INVISIBLE`] es exactamente lo que Unicode dice: la unión de
    /// `Default_Ignorable_Code_Point` y `Cf`, según `icu_properties`. Si
    /// no, imprime la tabla correcta.
    #[test]
    fn the_invisible_table_is_unicodes() {
        let mut ranges: Vec<(char, char)> = Vec::new();
        for c in (0..=0x10FFFF).filter_map(char::from_u32) {
            let invisible = CodePointSetData::new::<DefaultIgnorableCodePoint>().contains(c)
                || CodePointMapData::<GeneralCategory>::new().get(c) == GeneralCategory::Format;
            if !invisible {
                continue;
            }
            match ranges.last_mut() {
                Some((_, last)) if u32::from(*last) + 1 == u32::from(c) => *last = c,
                _ => ranges.push((c, c)),
            }
        }
        let table: String = ranges
            .iter()
            .map(|&(a, b)| {
                let (a, b) = (u32::from(a), u32::from(b));
                format!("    ('\\u{{{a:04X}}}', '\\u{{{b:04X}}}'),\n")
            })
            .collect();
        assert!(
            INVISIBLE == ranges.as_slice(),
            "INVISIBLE no es la de Unicode; la nueva es:\n{table}"
        );
    }

    #[test]
    fn every_character_that_renders_blank_collapses_or_goes() {
        use icu_properties::props::WhiteSpace;
        let set = |ranges: &mut dyn Iterator<Item = std::ops::RangeInclusive<u32>>| {
            ranges
                .flatten()
                .filter_map(char::from_u32)
                .collect::<Vec<_>>()
        };
        let white = set(&mut CodePointSetData::new::<WhiteSpace>().iter_ranges());
        let ignorable =
            set(&mut CodePointSetData::new::<DefaultIgnorableCodePoint>().iter_ranges());
        let format: Vec<char> = (0..=0x10FFFF)
            .filter_map(char::from_u32)
            .filter(|&c| {
                CodePointMapData::<GeneralCategory>::new().get(c) == GeneralCategory::Format
            })
            .collect();
        let named = [
            '\u{2800}', '\u{115F}', '\u{1160}', '\u{3164}', '\u{FFA0}', '\u{FFF9}', '\u{FFFA}',
            '\u{FFFB}',
        ];
        // Los datos de Unicode tienen lo que se espera de ellos.
        assert!(white.len() >= 25 && white.contains(&'\u{3000}'));
        assert!(ignorable.len() > 4000 && ignorable.contains(&'\u{3164}'));
        assert!(format.contains(&'\u{FFF9}') && format.contains(&'\u{200B}'));
        // `render_text` no consulta las tablas para el ASCII.
        assert!(ignorable.iter().chain(&format).all(|c| !c.is_ascii()));
        let all = white.iter().chain(&ignorable).chain(&format).chain(&named);
        let mut walked = 0;
        for &c in all {
            let pad = c.to_string().repeat(80);
            let seen = render_text(&format!("ok{pad}[SERVER] Client: x"));
            assert!(
                seen == "ok[SERVER] Client: x" || seen == "ok [SERVER] Client: x",
                "U+{:04X}: {seen:?}",
                u32::from(c)
            );
            walked += 1;
        }
        assert!(walked > 4000);
        // Lo que se ve sigue viéndose.
        assert_eq!(render_text("ñ ❤ 😀 ⠁ 한"), "ñ ❤ 😀 ⠁ 한");
    }
}
