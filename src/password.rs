//! Hash de contraseñas con Argon2id: cómo se guarda una contraseña sin
//! guardarla, y cómo se comprueba.
//!
//! No sabe de cuentas ni de archivos. El costo por defecto es el que
//! recomienda OWASP para Argon2id (19 MiB de memoria, 2 pasadas, 1 hilo);
//! [`HashCost::Minimal`] existe solo para pruebas y benchmarks, donde se
//! quiere medir el chat y no el hash.

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
use argon2::{Algorithm, Argon2, Params, Version};
use std::sync::OnceLock;

/// Cuánto cuesta calcular un hash nuevo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashCost {
    /// Argon2id, m = 19 MiB, t = 2, p = 1 (OWASP Password Storage Cheat Sheet).
    Owasp,
    /// Argon2id con el mínimo que admite el algoritmo (m = 8 KiB, t = 1): sin
    /// valor de seguridad, solo para pruebas y benchmarks.
    Minimal,
}

impl HashCost {
    /// Lee el valor del flag `--hash-cost` (`owasp` o `minimal`).
    pub fn parse(text: &str) -> Option<HashCost> {
        match text {
            "owasp" => Some(HashCost::Owasp),
            "minimal" => Some(HashCost::Minimal),
            _ => None,
        }
    }
}

/// Calcula y comprueba hashes con un costo fijo.
pub struct Hasher {
    argon2: Argon2<'static>,
    /// Hash de una contraseña que nadie conoce, para que entrar con un nombre
    /// inexistente tarde lo mismo que con uno existente (si no, el tiempo de
    /// respuesta delataría qué nombres tienen cuenta).
    decoy: OnceLock<Option<String>>,
}

impl Hasher {
    /// Un `Hasher` del costo dado.
    pub fn new(cost: HashCost) -> Hasher {
        let params = match cost {
            HashCost::Owasp => Params::DEFAULT,
            HashCost::Minimal => {
                Params::new(Params::MIN_M_COST, 1, 1, None).unwrap_or(Params::DEFAULT)
            }
        };
        Hasher {
            argon2: Argon2::new(Algorithm::Argon2id, Version::V0x13, params),
            decoy: OnceLock::new(),
        }
    }

    /// El hash PHC (`$argon2id$v=19$m=...$sal$hash`) de `password`, con una
    /// sal aleatoria de 16 bytes del sistema operativo. Devuelve `None` solo si
    /// el sistema no da números aleatorios (no ocurre en Linux).
    pub fn hash(&self, password: &str) -> Option<String> {
        let hash: PasswordHash = self.argon2.hash_password(password.as_bytes()).ok()?;
        Some(hash.to_string())
    }

    /// `true` si `password` corresponde a `stored` (un hash PHC). Usa los
    /// parámetros que lleva el hash, no los de este `Hasher`. Con `stored =
    /// None` (cuenta inexistente) gasta el mismo tiempo y devuelve `false`.
    pub fn verify(&self, password: &str, stored: Option<&str>) -> bool {
        let decoy = self
            .decoy
            .get_or_init(|| self.hash("no-account-has-this-password"));
        let (target, real) = match (stored, decoy.as_deref()) {
            (Some(hash), _) => (hash, true),
            (None, Some(decoy)) => (decoy, false),
            (None, None) => return false,
        };
        let Ok(parsed) = PasswordHash::new(target) else {
            return false;
        };
        let matches = self
            .argon2
            .verify_password(password.as_bytes(), &parsed)
            .is_ok();
        matches && real
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_salted_and_verify() {
        let hasher = Hasher::new(HashCost::Minimal);
        let a = hasher.hash("s3cret").expect("hash");
        let b = hasher.hash("s3cret").expect("hash");
        assert!(a.starts_with("$argon2id$v=19$"), "{a}");
        assert_ne!(a, b, "la sal debe hacer distintos dos hashes iguales");
        assert!(!a.contains("s3cret"));
        assert!(hasher.verify("s3cret", Some(&a)));
        assert!(!hasher.verify("s3cret!", Some(&a)));
        assert!(!hasher.verify("s3cret", None));
        assert!(!hasher.verify("s3cret", Some("not a hash")));
    }

    #[test]
    fn the_default_cost_is_owasps() {
        let hash = Hasher::new(HashCost::Owasp).hash("pw").expect("hash");
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        // Un hash caro se comprueba con sus propios parámetros.
        assert!(Hasher::new(HashCost::Minimal).verify("pw", Some(&hash)));
    }
}
