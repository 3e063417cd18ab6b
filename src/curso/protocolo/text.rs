//! El texto de los usuarios tal como lo verán los demás: los nombres que
//! se confunden en la pantalla ([`name_skeleton`]) y los mensajes, sin
//! controles que puedan pasar por una línea del servidor ([`render_text`]). Es parte
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

/// Prepara el texto de un mensaje tal como lo verán los demás (enunciado
/// 004: los emojis), para que nada en él pueda pasar por una línea del
/// servidor o un privado ajeno:
///
/// - quita los caracteres de control (un `ESC` podría manejar la terminal
///   ajena, un `\r` volvería al principio de la línea para escribir
///   `[SERVER]` encima del nombre);
/// - junta cada tramo de espacio (espacios, tabuladores, espacios de otros
///   anchos) en **un** espacio y quita los de los extremos: con 80
///   espacios, un texto falso empezaría en la columna 0 de la línea
///   siguiente de una terminal de 80 columnas;
/// - reemplaza cada emoji que aparece como palabra completa (`:smile` →
///   `:~)`).
///
/// Devuelve el texto listo; puede quedar vacío si solo había controles o
/// espacio. El programa completo quita además lo que no se ve (los
/// invisibles de Unicode, los que invierten la dirección del texto), con
/// [`render_with`].
pub fn render_text(text: &str) -> String {
    // Los controles que son espacio (el tabulador) cuentan como espacio.
    let hidden = |c: char| c.is_control() && !c.is_whitespace();
    render_with(text, &hidden, &char::is_whitespace)
}

/// [`render_text`] con otras reglas: `hidden` dice qué caracteres se
/// quitan y `blank` cuáles separan palabras.
pub fn render_with(
    text: &str,
    hidden: &dyn Fn(char) -> bool,
    blank: &dyn Fn(char) -> bool,
) -> String {
    let clean: String = text.chars().filter(|&c| !hidden(c)).collect();
    clean
        .split(blank)
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
