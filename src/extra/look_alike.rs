//! Los nombres que se confunden en la pantalla: nadie registra `aIice`
//! junto a `alice`, ni `Jose` junto a `José`, ni un nombre que el chat
//! imprime en sus propias líneas (`SERVER`, [`PROTOCOL_WORDS`]). Son
//! reglas del programa completo, enchufadas en el
//! [`Guard`](crate::curso::seams::Guard) de `abuse`: el curso solo rechaza
//! el mismo nombre (sin distinguir mayúsculas), en el libro de cuentas.
//!
//! Es dueño del esqueleto de cada nombre ([`name_skeleton`]) y de la
//! reserva de los esqueletos ([`LookAlikes`]); no sabe de cuentas ni de
//! contraseñas.

use crate::curso::protocolo::name_key;
use crate::curso::sync::lock;
use std::collections::HashMap;
use std::sync::Mutex;

/// Las palabras que el protocolo imprime (`[SERVER] Client: ...`,
/// `[PRIVATE] ...`): como nombre, sus mensajes se leerían como del
/// servidor. Sin distinguir mayúsculas; las cuentas que ya existían con un
/// nombre así siguen entrando.
pub const PROTOCOL_WORDS: [&str; 3] = ["SERVER", "PRIVATE", "Client"];

/// `true` si `name` es una de las [`PROTOCOL_WORDS`].
pub fn reads_as_protocol(name: &str) -> bool {
    PROTOCOL_WORDS.iter().any(|w| w.eq_ignore_ascii_case(name))
}

/// El "esqueleto" de un nombre: cómo se ve, más que cómo se escribe. En
/// minúsculas, sin acentos (`é` → `e`, `ñ` → `n`), y con los parecidos de
/// siempre unificados: `i`, `l` y `1` → `l` (una `I` mayúscula se ve como
/// una `l`), `0` → `o`, `rn` → `m`, `vv` → `w`. Dos nombres con el mismo
/// esqueleto se confunden en la pantalla: `aIice` y `alice`, `rnallory` y
/// `mallory`, `José` y `Jose`. Es la idea de los *confusable skeletons* de
/// Unicode TR39, reducida a las letras que permite
/// [`check_name`](crate::curso::protocolo::check_name).
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

/// Los esqueletos ocupados: por las cuentas que ya existen y por los
/// `:register` que están calculando su hash.
///
/// El candado hace que comprobar y reservar sea un solo paso: sin él, dos
/// hilos que registran `alice` y `aIice` a la vez verían los dos el
/// esqueleto libre, y los dos entrarían. Nunca se toma junto con otro
/// candado.
#[derive(Default)]
pub struct LookAlikes {
    /// Por esqueleto, las claves (nombre en minúsculas) que lo ocupan, una
    /// vez por cuenta o reserva. Un diario anterior a la regla puede traer
    /// dos cuentas parecidas: las dos entran.
    taken: Mutex<HashMap<String, Vec<String>>>,
}

impl LookAlikes {
    /// Anota las cuentas que ya existen al arrancar.
    pub fn seed<'a>(&self, names: impl IntoIterator<Item = &'a str>) {
        let mut taken = lock(&self.taken);
        for name in names {
            let keys = taken.entry(name_skeleton(name)).or_default();
            keys.push(name_key(name));
        }
    }

    /// Antes de registrar `name`: lo reserva, o devuelve `false` si su
    /// esqueleto es de otro nombre. El mismo nombre pasa (y el libro
    /// responde que ya existe).
    pub fn reserve(&self, name: &str) -> bool {
        let key = name_key(name);
        let mut taken = lock(&self.taken);
        let keys = taken.entry(name_skeleton(name)).or_default();
        if keys.iter().any(|k| *k != key) {
            return false;
        }
        keys.push(key);
        true
    }

    /// El registro de `name` no se hizo: suelta una reserva suya (la
    /// cuenta que ya existía con ese nombre, si había, sigue anotada).
    pub fn release(&self, name: &str) {
        let key = name_key(name);
        let skeleton = name_skeleton(name);
        let mut taken = lock(&self.taken);
        if let Some(keys) = taken.get_mut(&skeleton) {
            if let Some(at) = keys.iter().position(|k| *k == key) {
                keys.swap_remove(at);
            }
            if keys.is_empty() {
                taken.remove(&skeleton);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn look_alike_names_share_a_skeleton() {
        for (a, b) in [
            ("alice", "aIice"),
            ("alice", "a1ice"),
            ("alice", "ALICE"),
            ("mallory", "rnallory"),
            ("wendy", "vvendy"),
            ("bob0", "bobo"),
            ("José", "Jose"),
            ("Begoña", "begona"),
            ("Ramón", "ramon"),
        ] {
            assert_eq!(name_skeleton(a), name_skeleton(b), "{a} ~ {b}");
        }
        for (a, b) in [("alice", "alicia"), ("bob", "rob"), ("ana", "ann")] {
            assert_ne!(name_skeleton(a), name_skeleton(b), "{a} ≠ {b}");
        }
    }

    #[test]
    fn the_words_of_the_protocol_are_no_names() {
        for word in ["SERVER", "server", "Private", "CLIENT", "client"] {
            assert!(reads_as_protocol(word), "{word}");
        }
        assert!(!reads_as_protocol("Clients"));
    }

    #[test]
    fn a_skeleton_is_reserved_until_released() {
        let names = LookAlikes::default();
        // Un diario de antes de la regla, con dos parecidos: entran los dos.
        names.seed(["alice", "mallory", "rnallory"]);
        assert!(!names.reserve("aIice"));
        assert!(
            names.reserve("ALICE"),
            "el mismo nombre: lo decide el libro"
        );
        names.release("ALICE");
        assert!(!names.reserve("a1ice"), "alice sigue anotada");
        assert!(!names.reserve("rnaIlory"));
        // Dos registros parecidos a la vez: el segundo no pasa mientras el
        // primero no se suelte.
        assert!(names.reserve("José"));
        assert!(!names.reserve("Jose"));
        names.release("José");
        assert!(names.reserve("Jose"));
    }
}
