//! El texto de los mensajes tal como lo verán los demás, sin controles que
//! puedan pasar por una línea del servidor ([`render_text`]). Es parte de
//! [`crate::curso::protocolo`]: puro, sin E/S.

use super::EMOJIS;

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
