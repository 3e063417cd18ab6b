//! El grupo de hilos que calcula los hashes de las contraseñas en el
//! programa completo ([`HasherPool`], enchufado en
//! [`crate::curso::password::Hashing`]): cada hilo con su bloque de memoria
//! de Argon2 reservado una vez y reusado, así que la memoria del hash es
//! fija (hilos × 19 MiB), pase lo que pase, y un hash guardado que pide más
//! memoria que la propia no se calcula. El formato (PHC, Argon2id) y los
//! costos son los del curso: un hash de uno se comprueba con el otro.

use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use std::panic::{self, AssertUnwindSafe};
use std::sync::{Arc, Mutex, OnceLock, mpsc};
use std::thread;

use crate::curso::password::{HashCost, Hashing};

/// Calcula y comprueba hashes con un costo fijo, en un grupo pequeño de
/// hilos propios (uno por núcleo).
///
/// ¿Por qué no en el hilo del cliente? Por dos razones medidas con el
/// benchmark de carga. La pila: Argon2 es lo más profundo que corre el servidor, y las
/// páginas de pila que un hilo toca quedan residentes mientras vive; con el
/// hash en el hilo del cliente, cada uno de 10.000 clientes quietos retenía
/// unos 20 KiB de pila en vez de 8. Y la memoria del hash: con el costo OWASP
/// cada cálculo usa 19 MiB, así que 1000 clientes entrando a la vez pedirían
/// 19 GB; con el grupo, nunca hay más cálculos simultáneos que núcleos, y
/// los demás esperan su turno en la cola (sin consumir CPU).
pub struct HasherPool {
    argon: Arc<Argon>,
    /// La cola de trabajos del grupo; se crea al primer uso. `None` si no se
    /// pudo crear ningún hilo: entonces se calcula en el hilo que llama.
    pool: OnceLock<Option<mpsc::Sender<Job>>>,
}

/// Un trabajo para el grupo: corre con el [`Argon`] compartido y la
/// memoria propia del hilo que lo toma.
type Job = Box<dyn FnOnce(&Argon, &mut Memory) + Send>;

/// La memoria de Argon2 de un hilo del grupo: bloques de 1 KiB que se
/// reservan la primera vez y se reusan en cada hash.
///
/// ¿Por qué no dejar que Argon2 reserve la suya en cada cálculo? Porque
/// 19 MiB liberados no vuelven al sistema: el `malloc` de glibc sube su
/// umbral de `mmap` tras liberar un bloque así de grande, los siguientes
/// salen de la arena del hilo y quedan retenidos. 50 entradas a la vez
/// dejaban al servidor en 271 MiB de RSS para siempre (medido con
/// `cargo bench --bench abuso`); con un bloque por
/// hilo, reusado, la memoria del hash es hilos × 19 MiB y no crece.
#[derive(Default)]
struct Memory {
    blocks: Vec<Block>,
}

impl Memory {
    /// Los primeros `count` bloques, reservando los que falten. `None` si
    /// `count` pasa de `limit` (un hash guardado que pide más memoria que
    /// la que este servidor usa: no lo generó él).
    fn blocks(&mut self, count: usize, limit: usize) -> Option<&mut [Block]> {
        if count > limit {
            return None;
        }
        if self.blocks.len() < count {
            self.blocks.resize(count, Block::default());
        }
        self.blocks.get_mut(..count)
    }
}

/// El algoritmo con sus parámetros; lo usan los hilos del grupo.
struct Argon {
    argon2: Argon2<'static>,
    /// Bloques de memoria que un hash puede pedir como mucho: los del costo
    /// propio o los de OWASP, el mayor (así un servidor con
    /// `--hash-cost minimal` comprueba hashes hechos con el costo normal).
    max_blocks: usize,
    /// Hash de una contraseña que nadie conoce, para que entrar con un nombre
    /// inexistente tarde lo mismo que con uno existente (si no, el tiempo de
    /// respuesta delataría qué nombres tienen cuenta).
    decoy: OnceLock<Option<String>>,
}

impl HasherPool {
    /// Un grupo del costo dado. Sus hilos nacen con el primer hash.
    pub fn new(cost: HashCost) -> HasherPool {
        let params = cost.params();
        let max_blocks = params.block_count().max(Params::DEFAULT.block_count());
        HasherPool {
            argon: Arc::new(Argon {
                argon2: Argon2::new(Algorithm::Argon2id, Version::V0x13, params),
                max_blocks,
                decoy: OnceLock::new(),
            }),
            pool: OnceLock::new(),
        }
    }

    /// [`HasherPool::new`] en una caja, como lo pide el servidor.
    pub fn boxed(cost: HashCost) -> Box<dyn Hashing> {
        Box::new(HasherPool::new(cost))
    }

    /// Corre `work` en un hilo del grupo y espera su resultado. Si el grupo
    /// no existe, lo corre aquí. `None` solo si `work` entró en pánico.
    fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Argon, &mut Memory) -> T + Send + 'static,
    ) -> Option<T> {
        let (reply, result) = mpsc::sync_channel(1);
        let job: Job = Box::new(move |argon, memory| {
            let _ = reply.send(work(argon, memory));
        });
        match self.pool() {
            Some(queue) => {
                if let Err(mpsc::SendError(job)) = queue.send(job) {
                    job(&self.argon, &mut Memory::default());
                }
            }
            None => job(&self.argon, &mut Memory::default()),
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

/// Cada llamada bloquea al que llama hasta que un hilo del grupo la
/// atienda; los parámetros de una comprobación son los que lleva el hash.
impl Hashing for HasherPool {
    fn hash(&self, password: &str) -> Option<String> {
        let password = password.to_string();
        self.run(move |argon, memory| argon.hash(&password, memory))
            .flatten()
    }

    fn verify(&self, password: &str, stored: Option<&str>) -> bool {
        let (password, stored) = (password.to_string(), stored.map(str::to_string));
        self.run(move |argon, memory| argon.verify(&password, stored.as_deref(), memory))
            .unwrap_or(false)
    }
}

/// El bucle de un hilo del grupo: toma trabajos hasta que el grupo se
/// destruye (la cola se cierra). Un pánico dentro de Argon2 no mata al hilo:
/// el que esperaba recibe `None`. La memoria del hilo vive lo que el hilo.
fn work_loop(jobs: &Mutex<mpsc::Receiver<Job>>, argon: &Argon) {
    let mut memory = Memory::default();
    loop {
        let job = {
            let jobs = crate::curso::sync::lock(jobs);
            match jobs.recv() {
                Ok(job) => job,
                Err(mpsc::RecvError) => return,
            }
        };
        let _ = panic::catch_unwind(AssertUnwindSafe(|| job(argon, &mut memory)));
    }
}

impl Argon {
    fn hash(&self, password: &str, memory: &mut Memory) -> Option<String> {
        let params = self.argon2.params();
        let salt: [u8; Salt::RECOMMENDED_LENGTH] = rand::random();
        let mut out = vec![0u8; params.output_len().unwrap_or(Params::DEFAULT_OUTPUT_LEN)];
        let blocks = memory.blocks(params.block_count(), self.max_blocks)?;
        self.argon2
            .hash_password_into_with_memory(password.as_bytes(), &salt, &mut out, blocks)
            .ok()?;
        let hash = PasswordHash {
            algorithm: Algorithm::Argon2id.ident(),
            version: Some(Version::V0x13.into()),
            params: ParamsString::try_from(params).ok()?,
            salt: Some(Salt::new(&salt).ok()?),
            hash: Some(Output::new(&out).ok()?),
        };
        Some(hash.to_string())
    }

    fn verify(&self, password: &str, stored: Option<&str>, memory: &mut Memory) -> bool {
        let decoy = self
            .decoy
            .get_or_init(|| self.hash("no-account-has-this-password", memory));
        let (target, real) = match (stored, decoy.as_deref()) {
            (Some(hash), _) => (hash, true),
            (None, Some(decoy)) => (decoy, false),
            (None, None) => return false,
        };
        self.matches(password, target, memory) && real
    }

    /// `true` si `password` da el hash PHC `stored`, calculado con los
    /// parámetros que `stored` lleva y la memoria del hilo. Un hash que no
    /// se entiende, o que pide más memoria que `max_blocks`, no coincide.
    fn matches(&self, password: &str, stored: &str, memory: &mut Memory) -> bool {
        let Ok(parsed) = PasswordHash::new(stored) else {
            return false;
        };
        let (Ok(algorithm), Ok(params), Some(salt), Some(expected)) = (
            Algorithm::try_from(parsed.algorithm.as_str()),
            Params::try_from(&parsed),
            parsed.salt,
            parsed.hash,
        ) else {
            return false;
        };
        let version = match parsed.version.map(Version::try_from) {
            None => Version::V0x13,
            Some(Ok(version)) => version,
            Some(Err(_)) => return false,
        };
        let Some(blocks) = memory.blocks(params.block_count(), self.max_blocks) else {
            return false;
        };
        let mut out = vec![0u8; expected.len()];
        let argon2 = Argon2::new(algorithm, version, params);
        if argon2
            .hash_password_into_with_memory(password.as_bytes(), salt.as_ref(), &mut out, blocks)
            .is_err()
        {
            return false;
        }
        // `Output` compara en tiempo constante: cuánto tarda no dice
        // cuántos bytes coincidieron.
        Output::new(&out).is_ok_and(|out| out == expected)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_salted_and_verify() {
        let hasher = HasherPool::new(HashCost::Minimal);
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
        let hasher = HasherPool::new(HashCost::Minimal);
        let name = hasher.run(|_, _| thread::current().name().map(str::to_string));
        let name = name.flatten().expect("un hilo con nombre");
        assert!(name.starts_with("hasher "), "{name}");
        // Un pánico dentro de un trabajo no mata al grupo.
        assert_eq!(hasher.run(|_, _| -> u8 { panic!("prueba") }), None);
        assert!(hasher.verify("pw", hasher.hash("pw").as_deref()));
    }

    /// Los hashes guardados antes de reusar la memoria (los hacía el
    /// `PasswordHasher` del crate) siguen valiendo, y al revés.
    #[test]
    fn hashes_match_the_crates_own_format_both_ways() {
        use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
        let params = Params::new(Params::MIN_M_COST, 1, 1, None).expect("params");
        let crate_argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let theirs = crate_argon.hash_password(b"pw").expect("hash").to_string();
        let hasher = HasherPool::new(HashCost::Minimal);
        assert!(hasher.verify("pw", Some(&theirs)));
        assert!(!hasher.verify("pw2", Some(&theirs)));
        let ours = hasher.hash("pw").expect("hash");
        let parsed = PasswordHash::new(&ours).expect("PHC");
        assert!(crate_argon.verify_password(b"pw", &parsed).is_ok());
    }

    /// Un hash que pide más memoria que la del grupo no se calcula: no lo
    /// hizo este servidor, y calcularlo reservaría memoria sin tope.
    #[test]
    fn a_hash_asking_for_more_memory_than_the_cap_does_not_match() {
        let hasher = HasherPool::new(HashCost::Minimal);
        let ours = hasher.hash("pw").expect("hash");
        let greedy = ours.replacen("m=8,", "m=4194304,", 1);
        assert_ne!(greedy, ours);
        assert!(!hasher.verify("pw", Some(&greedy)));
        let mut memory = Memory::default();
        assert!(memory.blocks(10, 8).is_none());
        assert_eq!(memory.blocks(8, 8).map(|b| b.len()), Some(8));
        // La memoria se reusa: pedir menos no reserva otra.
        assert_eq!(memory.blocks(4, 8).map(|b| b.len()), Some(4));
        assert_eq!(memory.blocks.len(), 8);
    }

    #[test]
    fn the_default_cost_is_owasps() {
        let hash = HasherPool::new(HashCost::Owasp).hash("pw").expect("hash");
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        // Un hash caro se comprueba con sus propios parámetros.
        assert!(HasherPool::new(HashCost::Minimal).verify("pw", Some(&hash)));
    }
}
