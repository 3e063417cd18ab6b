//! Hash de contraseñas con Argon2id: cómo se guarda una contraseña sin
//! guardarla, y cómo se comprueba. No sabe de cuentas ni de archivos.
//!
//! El costo por defecto es el que recomienda OWASP para Argon2id (19 MiB de
//! memoria, 2 pasadas, 1 hilo); [`HashCost::Minimal`] existe solo para
//! pruebas y benchmarks, donde se quiere medir el chat y no el hash. El
//! curso calcula cada hash en el hilo que lo pide ([`Argon`]); el programa
//! completo los manda a un grupo de hilos con la memoria reservada de una
//! vez, a través de [`Hashing`].

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
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

    /// Los parámetros de Argon2id de este costo.
    pub fn params(self) -> Params {
        match self {
            HashCost::Owasp => Params::DEFAULT,
            HashCost::Minimal => {
                Params::new(Params::MIN_M_COST, 1, 1, None).unwrap_or(Params::DEFAULT)
            }
        }
    }
}

/// Quien calcula y comprueba hashes (punto de enchufe: el libro de cuentas
/// lo llama; el curso usa [`Argon`]).
pub trait Hashing: Send + Sync {
    /// El hash PHC (`$argon2id$v=19$m=...$sal$hash`) de `password`, con una
    /// sal aleatoria de 16 bytes. `None` solo si Argon2 rechaza la entrada
    /// (una contraseña de más de 4 GiB, que el protocolo no permite).
    fn hash(&self, password: &str) -> Option<String>;

    /// `true` si `password` corresponde a `stored` (un hash PHC), con los
    /// parámetros que lleva el hash. Con `stored = None` (cuenta
    /// inexistente) gasta el mismo tiempo y devuelve `false`: si no, el
    /// tiempo de respuesta delataría qué nombres tienen cuenta.
    fn verify(&self, password: &str, stored: Option<&str>) -> bool;
}

/// Argon2id calculado en el hilo que llama: unos 20 ms y 19 MiB por hash
/// con el costo OWASP, mientras ese hilo espera.
pub struct Argon {
    argon2: Argon2<'static>,
    /// El hash de una contraseña que nadie conoce, para comprobar algo
    /// cuando la cuenta no existe.
    decoy: OnceLock<Option<String>>,
}

impl Argon {
    /// Un `Argon` del costo dado.
    pub fn new(cost: HashCost) -> Argon {
        let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, cost.params());
        let decoy = OnceLock::new();
        Argon { argon2, decoy }
    }

    /// [`Argon::new`] en una caja, como lo pide el libro de cuentas.
    pub fn boxed(cost: HashCost) -> Box<dyn Hashing> {
        Box::new(Argon::new(cost))
    }
}

impl Hashing for Argon {
    fn hash(&self, password: &str) -> Option<String> {
        let hash = self.argon2.hash_password(password.as_bytes()).ok()?;
        Some(hash.to_string())
    }

    fn verify(&self, password: &str, stored: Option<&str>) -> bool {
        let decoy = self
            .decoy
            .get_or_init(|| self.hash("no-account-has-this-password"));
        let Some(target) = stored.or(decoy.as_deref()) else {
            return false;
        };
        let Ok(parsed) = PasswordHash::new(target) else {
            return false;
        };
        let matches = self
            .argon2
            .verify_password(password.as_bytes(), &parsed)
            .is_ok();
        matches && stored.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_salted_and_verify() {
        let argon = Argon::new(HashCost::Minimal);
        let a = argon.hash("s3cret").expect("hash");
        let b = argon.hash("s3cret").expect("hash");
        assert!(a.starts_with("$argon2id$v=19$m=8,t=1,p=1$"), "{a}");
        assert_ne!(a, b, "la sal debe hacer distintos dos hashes iguales");
        assert!(!a.contains("s3cret"));
        assert!(argon.verify("s3cret", Some(&a)));
        assert!(!argon.verify("s3cret!", Some(&a)));
        assert!(!argon.verify("s3cret", None));
        assert!(!argon.verify("s3cret", Some("not a hash")));
    }

    #[test]
    fn the_default_cost_is_owasps_and_each_hash_carries_its_own() {
        let hash = Argon::new(HashCost::Owasp).hash("pw").expect("hash");
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        assert!(Argon::new(HashCost::Minimal).verify("pw", Some(&hash)));
    }
}
