//! Hash de contraseñas con Argon2id: cómo se guarda una contraseña sin
//! guardarla, y cómo se comprueba.
//!
//! Los cálculos corren en un grupo de hilos propio ([`Hasher`]). No sabe
//! de cuentas ni de archivos. El costo por defecto es el que
//! recomienda OWASP para Argon2id (19 MiB de memoria, 2 pasadas, 1 hilo);
//! [`HashCost::Minimal`] existe solo para pruebas y benchmarks, donde se
//! quiere medir el chat y no el hash.

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
use argon2::{Algorithm, Argon2, Params, Version};
use std::panic::{self, AssertUnwindSafe};
use std::sync::{Arc, Mutex, OnceLock, PoisonError, mpsc};
use std::thread;

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

/// Calcula y comprueba hashes con un costo fijo, en un grupo pequeño de
/// hilos propios (uno por núcleo).
///
/// ¿Por qué no en el hilo del cliente? Por dos razones medidas en el issue
/// #5. La pila: Argon2 es lo más profundo que corre el servidor, y las
/// páginas de pila que un hilo toca quedan residentes mientras vive; con el
/// hash en el hilo del cliente, cada uno de 10.000 clientes quietos retenía
/// unos 20 KiB de pila en vez de 8. Y la memoria del hash: con el costo OWASP
/// cada cálculo usa 19 MiB, así que 1000 clientes entrando a la vez pedirían
/// 19 GB; con el grupo, nunca hay más cálculos simultáneos que núcleos, y
/// los demás esperan su turno en la cola (sin consumir CPU).
pub struct Hasher {
    argon: Arc<Argon>,
    /// La cola de trabajos del grupo; se crea al primer uso. `None` si no se
    /// pudo crear ningún hilo: entonces se calcula en el hilo que llama.
    pool: OnceLock<Option<mpsc::Sender<Job>>>,
}

/// Un trabajo para el grupo: corre con el [`Argon`] compartido.
type Job = Box<dyn FnOnce(&Argon) + Send>;

/// El algoritmo con sus parámetros; lo usan los hilos del grupo.
struct Argon {
    argon2: Argon2<'static>,
    /// Hash de una contraseña que nadie conoce, para que entrar con un nombre
    /// inexistente tarde lo mismo que con uno existente (si no, el tiempo de
    /// respuesta delataría qué nombres tienen cuenta).
    decoy: OnceLock<Option<String>>,
}

impl Hasher {
    /// Un `Hasher` del costo dado. Sus hilos nacen con el primer hash.
    pub fn new(cost: HashCost) -> Hasher {
        let params = match cost {
            HashCost::Owasp => Params::DEFAULT,
            HashCost::Minimal => {
                Params::new(Params::MIN_M_COST, 1, 1, None).unwrap_or(Params::DEFAULT)
            }
        };
        Hasher {
            argon: Arc::new(Argon {
                argon2: Argon2::new(Algorithm::Argon2id, Version::V0x13, params),
                decoy: OnceLock::new(),
            }),
            pool: OnceLock::new(),
        }
    }

    /// El hash PHC (`$argon2id$v=19$m=...$sal$hash`) de `password`, con una
    /// sal aleatoria de 16 bytes del sistema operativo. Bloquea al que llama
    /// hasta que un hilo del grupo lo calcule. Devuelve `None` solo si el
    /// sistema no da números aleatorios (no ocurre en Linux).
    pub fn hash(&self, password: &str) -> Option<String> {
        let password = password.to_string();
        self.run(move |argon| argon.hash(&password)).flatten()
    }

    /// `true` si `password` corresponde a `stored` (un hash PHC). Usa los
    /// parámetros que lleva el hash, no los de este `Hasher`. Con `stored =
    /// None` (cuenta inexistente) gasta el mismo tiempo y devuelve `false`.
    /// Bloquea al que llama hasta que un hilo del grupo lo compruebe.
    pub fn verify(&self, password: &str, stored: Option<&str>) -> bool {
        let (password, stored) = (password.to_string(), stored.map(str::to_string));
        self.run(move |argon| argon.verify(&password, stored.as_deref()))
            .unwrap_or(false)
    }

    /// Corre `work` en un hilo del grupo y espera su resultado. Si el grupo
    /// no existe, lo corre aquí. `None` solo si `work` entró en pánico.
    fn run<T: Send + 'static>(&self, work: impl FnOnce(&Argon) -> T + Send + 'static) -> Option<T> {
        let (reply, result) = mpsc::sync_channel(1);
        let job: Job = Box::new(move |argon| {
            let _ = reply.send(work(argon));
        });
        match self.pool() {
            Some(queue) => {
                if let Err(mpsc::SendError(job)) = queue.send(job) {
                    job(&self.argon);
                }
            }
            None => job(&self.argon),
        }
        result.recv().ok()
    }

    /// La cola del grupo, creando sus hilos la primera vez.
    fn pool(&self) -> Option<&mpsc::Sender<Job>> {
        self.pool
            .get_or_init(|| {
                let (queue, jobs) = mpsc::channel::<Job>();
                let jobs = Arc::new(Mutex::new(jobs));
                let workers = thread::available_parallelism().map_or(2, |n| n.get().min(8));
                let mut started = 0;
                for i in 0..workers {
                    let jobs = Arc::clone(&jobs);
                    let argon = Arc::clone(&self.argon);
                    let spawned = thread::Builder::new()
                        .name(format!("hasher {i}"))
                        .spawn(move || work_loop(&jobs, &argon));
                    started += usize::from(spawned.is_ok());
                }
                (started > 0).then_some(queue)
            })
            .as_ref()
    }
}

/// El bucle de un hilo del grupo: toma trabajos hasta que el `Hasher` se
/// destruye (la cola se cierra). Un pánico dentro de Argon2 no mata al hilo:
/// el que esperaba recibe `None`.
fn work_loop(jobs: &Mutex<mpsc::Receiver<Job>>, argon: &Argon) {
    loop {
        let job = {
            let jobs = jobs.lock().unwrap_or_else(PoisonError::into_inner);
            match jobs.recv() {
                Ok(job) => job,
                Err(mpsc::RecvError) => return,
            }
        };
        let _ = panic::catch_unwind(AssertUnwindSafe(|| job(argon)));
    }
}

impl Argon {
    fn hash(&self, password: &str) -> Option<String> {
        let hash: PasswordHash = self.argon2.hash_password(password.as_bytes()).ok()?;
        Some(hash.to_string())
    }

    fn verify(&self, password: &str, stored: Option<&str>) -> bool {
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
    fn hashes_run_on_the_pool_not_on_the_caller() {
        let hasher = Hasher::new(HashCost::Minimal);
        let name = hasher.run(|_| thread::current().name().map(str::to_string));
        let name = name.flatten().expect("un hilo con nombre");
        assert!(name.starts_with("hasher "), "{name}");
        // Un pánico dentro de un trabajo no mata al grupo.
        assert_eq!(hasher.run(|_| -> u8 { panic!("prueba") }), None);
        assert!(hasher.verify("pw", hasher.hash("pw").as_deref()));
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
