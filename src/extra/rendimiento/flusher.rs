//! El hilo compartido que termina de escribir las colas de los clientes
//! cuyo socket estaba lleno (*flusher*), y el techo de memoria de esas
//! colas, todas juntas.
//!
//! Cuando una cola de salida (`outbox`) no puede escribir todo porque el
//! búfer del kernel de su socket está lleno, se la entrega aquí. El hilo
//! del flusher espera con `poll(2)` a que **alguno** de esos sockets acepte
//! más, y escribe solo esos: un cliente que no lee nunca no cuesta nada
//! mientras no lee, y uno que vuelve a leer recibe lo suyo en cuanto su
//! socket tiene lugar. Es la misma idea que un servidor con `epoll`, pero
//! solo para los pocos sockets atascados: los demás se escriben en el hilo
//! de quien envía (capítulo 4.3 del informe).
//!
//! No sabe de protocolo ni de usuarios: ve colas, bytes y descriptores.

use crate::extra::stats::{COUNTERS, Counters};
use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

/// Lo que el flusher necesita de una cola: escribir lo pendiente sin
/// esperar, cortar la conexión, cuántos bytes debe y su socket. Lo
/// implementa la cola (`outbox::Outbox`); así este módulo no depende de ella
/// (la cola sí depende del flusher, para entregarle su escritura).
pub trait Parked: Send + Sync {
    /// Escribe todo lo que el socket acepte ahora.
    fn drain(&self) -> Drain;
    /// Cierra por error: descarta lo pendiente y corta la conexión.
    fn fail(&self);
    /// Bytes sin enviar.
    fn pending_bytes(&self) -> usize;
    /// El descriptor para `poll(2)`; `None` si no hay socket.
    fn descriptor(&self) -> Option<i32>;
}

/// Qué pasó al escribir lo pendiente de una cola.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Drain {
    /// Todo salió; nadie está escribiendo.
    Idle,
    /// El socket no acepta más por ahora; quien escribía sigue a cargo.
    /// `progress`: salió algo antes de llenarse.
    Stalled { progress: bool },
    /// La conexión está cerrada.
    Closed,
}

/// Techo por defecto de bytes reservados por todas las colas que el flusher
/// tiene a cargo, juntas: 64 MiB (`--max-total-queue-bytes`).
/// Con el límite por cliente de 1 MiB, 300 clientes que no leían llevaban
/// el servidor a 342–356 MiB; con el techo, el que más debe se desconecta
/// antes.
pub const DEFAULT_TOTAL_QUEUE_LIMIT: usize = 64 * 1024 * 1024;

/// Cada cuánto se reintenta una cola sin descriptor que esperar (las de
/// las pruebas; un socket real siempre tiene uno).
pub const STALL_RETRY: Duration = Duration::from_millis(1);

/// Cuánto debe pasar una cola sin que su socket acepte nada para que el
/// techo pueda cortarla. Sin este plazo, en una ráfaga (10.000 clientes que
/// entran a la vez reciben 10.000 avisos cada uno) muchos sockets se llenan
/// un momento, la suma pasa el techo y se cortaban clientes que sí leían,
/// solo que más lento que la ráfaga (se vio en el escenario `idle` del
/// benchmark de carga). Un cliente que no lee nunca pasa este plazo y se
/// corta igual; mientras tanto la suma puede pasar el techo un rato.
pub const STUCK_AFTER: Duration = Duration::from_secs(1);

/// Tras cuánto tiempo sin colas atascadas el flusher devuelve al sistema la
/// memoria libre (ver [`release_free_memory`]).
const CALM_BEFORE_TRIM: Duration = Duration::from_secs(1);

/// El flusher: lo comparten todas las colas del servidor. Uno para todo el
/// servidor: un hilo escritor por cliente duplicaría los hilos (y
/// el kernel limita la cantidad de *mappings* de memoria, y cada hilo usa
/// cuatro).
///
/// Lleva la cuenta de la memoria de las colas a su cargo y la mantiene bajo
/// un techo (`--max-total-queue-bytes`): al pasarlo, desconecta primero al
/// cliente con la cola más larga. Solo cuenta esas colas porque son las
/// únicas que crecen: las demás se vacían en el `write` del que encola, y
/// contarlas costaría una operación atómica compartida por cada mensaje
/// del camino rápido.
pub struct Flusher {
    incoming: Mutex<Incoming>,
    /// El extremo de escritura del "despertador": un byte aquí hace volver
    /// al `poll` del hilo, que también espera en el otro extremo.
    alarm: UnixStream,
    /// Suma de la memoria de todas las colas a cargo del flusher, en bytes.
    parked_bytes: AtomicUsize,
    /// Techo de `parked_bytes`, en bytes; `usize::MAX` = sin techo.
    ceiling: usize,
}

/// Lo que otros hilos le pasan al del flusher.
#[derive(Default)]
struct Incoming {
    /// Colas recién entregadas; el hilo las pasa a su propia lista.
    queues: Vec<Arc<dyn Parked>>,
    /// El hilo está (o va a estar) dormido en `poll`: hay que despertarlo.
    asleep: bool,
}

/// Una cola a cargo del flusher.
struct Entry {
    outbox: Arc<dyn Parked>,
    /// El socket, para `poll`; `None` si no hay (se reintenta cada
    /// [`STALL_RETRY`]).
    fd: Option<i32>,
    /// Hay que intentar escribirla en esta vuelta.
    ready: bool,
    /// La última vez que su socket aceptó algo (o que llegó aquí).
    progressed: Instant,
}

impl Entry {
    /// Si `poll` dijo que su socket acepta más, escribe lo que pueda a la
    /// hora `now`. Devuelve `true` si la cola sigue a cargo del flusher
    /// (quedó algo sin escribir), `false` si se vació o se cerró.
    fn drain_if_ready(&mut self, now: Instant) -> bool {
        if !self.ready {
            return true;
        }
        self.ready = false;
        match self.outbox.drain() {
            Drain::Stalled { progress } => {
                if progress {
                    self.progressed = now;
                }
                true
            }
            Drain::Idle | Drain::Closed => false,
        }
    }
}

impl Flusher {
    /// Crea el flusher y arranca su hilo. `ceiling`: techo de bytes entre
    /// todas las colas a su cargo (0 = sin techo). Error: el de
    /// `thread::spawn` o el de `socketpair(2)` para el despertador.
    pub fn start(ceiling: usize) -> io::Result<Arc<Flusher>> {
        let (alarm, bell) = UnixStream::pair()?;
        alarm.set_nonblocking(true)?;
        bell.set_nonblocking(true)?;
        let flusher = Arc::new(Flusher {
            incoming: Mutex::new(Incoming::default()),
            alarm,
            parked_bytes: AtomicUsize::new(0),
            ceiling: if ceiling == 0 { usize::MAX } else { ceiling },
        });
        let worker = Arc::clone(&flusher);
        thread::Builder::new()
            .name("flusher".into())
            .spawn(move || worker.run(bell))?;
        Ok(flusher)
    }

    /// Bytes reservados ahora por las colas a cargo del flusher.
    pub fn parked_bytes(&self) -> usize {
        self.parked_bytes.load(Ordering::Relaxed)
    }

    /// Bytes que todavía caben bajo el techo (0 si ya se pasó). Para quien
    /// puede elegir no guardar algo, como el receptor del modo confiable,
    /// que tira lo adelantado sin acusarlo en vez de pasar el techo.
    pub fn room_left(&self) -> usize {
        self.ceiling.saturating_sub(self.parked_bytes())
    }

    fn lock(&self) -> MutexGuard<'_, Incoming> {
        crate::curso::sync::lock(&self.incoming)
    }

    /// Cambia la cuenta de una cola de `before` a `after` bytes. Devuelve
    /// `true` si la suma quedó sobre el techo. La cola lo llama con su
    /// candado tomado, así la suma nunca se desfasa de las colas.
    pub(crate) fn account(&self, before: usize, after: usize) -> bool {
        let total = if after >= before {
            let added = after - before;
            self.parked_bytes.fetch_add(added, Ordering::Relaxed) + added
        } else {
            let removed = before - after;
            self.parked_bytes.fetch_sub(removed, Ordering::Relaxed) - removed
        };
        total > self.ceiling
    }

    /// Despierta al hilo del flusher para que baje la suma bajo el techo.
    pub(crate) fn request_shedding(&self) {
        let mut incoming = self.lock();
        self.wake(&mut incoming);
    }

    /// Recibe colas cuya escritura se le cede (ya marcadas a su cargo: ver
    /// `Outbox::park`).
    pub(crate) fn adopt(&self, outboxes: impl IntoIterator<Item = Arc<dyn Parked>>) {
        let mut incoming = self.lock();
        incoming.queues.extend(outboxes);
        self.wake(&mut incoming);
    }

    /// Si el hilo duerme, le deja un byte en el despertador. Con el candado
    /// tomado: el hilo marca `asleep` con el mismo candado antes de su
    /// `poll`, así que el byte llega aunque todavía no haya empezado a
    /// esperar (queda en el socket y `poll` vuelve enseguida).
    fn wake(&self, incoming: &mut Incoming) {
        if incoming.asleep {
            incoming.asleep = false;
            // Si el despertador está lleno, ya hay bytes esperándolo.
            let _ = (&self.alarm).write(&[1]);
        }
    }

    fn run(&self, mut bell: UnixStream) {
        // Las colas a cargo; solo este hilo toca la lista, sin candado.
        let mut parked: Vec<Entry> = Vec::new();
        let mut polls: Vec<PollFd> = Vec::new();
        // Hubo trabajo desde la última devolución de memoria al sistema.
        let mut busy = false;
        loop {
            if let Some(timeout) = self.take_incoming(&mut parked, busy) {
                let woke = wait(&mut polls, &bell, &mut parked, timeout);
                if woke == Wait::TimedOut && parked.is_empty() && busy {
                    // La lista vacía no retiene la capacidad que dejó una
                    // ráfaga de 10.000 colas.
                    parked = Vec::new();
                    polls = Vec::new();
                    release_free_memory();
                    busy = false;
                }
                if woke == Wait::Rang {
                    let mut sink = [0u8; 64];
                    while matches!(bell.read(&mut sink), Ok(n) if n > 0) {}
                }
            }
            busy |= !parked.is_empty();
            // También tras el despertador sin colas nuevas: puede haber
            // sonado porque la suma pasó el techo.
            let now = Instant::now();
            self.shed(&parked, now);
            parked.retain_mut(|entry| entry.drain_if_ready(now));
        }
    }

    /// Pasa las colas recién entregadas a `parked`. Si no hay nada que
    /// escribir ya, marca al hilo dormido y devuelve cuánto esperar en
    /// `poll` (`Some(None)`: sin límite); `None` si hay trabajo ahora.
    fn take_incoming(&self, parked: &mut Vec<Entry>, busy: bool) -> Option<Option<Duration>> {
        let mut incoming = self.lock();
        incoming.asleep = false;
        if !incoming.queues.is_empty() {
            let now = Instant::now();
            parked.extend(incoming.queues.drain(..).map(|outbox| Entry {
                fd: outbox.descriptor(),
                outbox,
                ready: true,
                progressed: now,
            }));
            return None;
        }
        if parked.iter().any(|p| p.ready) {
            return None;
        }
        incoming.asleep = true;
        Some(if parked.iter().any(|p| p.fd.is_none()) {
            Some(STALL_RETRY)
        } else if self.parked_bytes() > self.ceiling {
            // Sobre el techo sin nadie para cortar todavía: volver a mirar
            // cuando alguna cola pueda haber pasado [`STUCK_AFTER`].
            Some(STUCK_AFTER / 4)
        } else if parked.is_empty() && busy {
            Some(CALM_BEFORE_TRIM)
        } else {
            None
        })
    }

    /// Mientras la suma pase el techo, desconecta al cliente de la cola más
    /// larga entre las atascadas hace al menos [`STUCK_AFTER`] a la hora
    /// `now`. Cuesta recorrer la lista por cada desconectado, pero solo
    /// corre sobre el techo, que es un ataque o un servidor mal dimensionado.
    fn shed(&self, parked: &[Entry], now: Instant) {
        while self.parked_bytes() > self.ceiling {
            let biggest = parked
                .iter()
                .filter(|entry| now.saturating_duration_since(entry.progressed) >= STUCK_AFTER)
                .map(|entry| (entry.outbox.pending_bytes(), &entry.outbox))
                .max_by_key(|(bytes, _)| *bytes);
            match biggest {
                Some((bytes, outbox)) if bytes > 0 => {
                    Counters::add(&COUNTERS.overflow_disconnects, 1);
                    outbox.fail();
                }
                _ => return,
            }
        }
    }
}

/// Por qué volvió [`wait`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wait {
    /// Algún socket acepta más (o se cerró): quedó marcado `ready`.
    Writable,
    /// Alguien tocó el despertador: hay colas nuevas o hay que recortar.
    Rang,
    /// Pasó el tiempo sin nada.
    TimedOut,
}

/// Una entrada de `poll(2)`, con el formato de `struct pollfd` de C.
#[repr(C)]
struct PollFd {
    fd: i32,
    events: i16,
    revents: i16,
}

const POLLIN: i16 = 0x1;
const POLLOUT: i16 = 0x4;

/// Espera con `poll(2)` a que el despertador suene o a que alguno de los
/// sockets de `parked` acepte más, a lo sumo `timeout` (`None`: sin
/// límite). Marca `ready` las colas que ya pueden escribir (las sin
/// descriptor, siempre). `polls` es el arreglo que se le pasa al kernel; se
/// reusa entre vueltas.
fn wait(
    polls: &mut Vec<PollFd>,
    bell: &UnixStream,
    parked: &mut [Entry],
    timeout: Option<Duration>,
) -> Wait {
    unsafe extern "C" {
        fn poll(fds: *mut PollFd, count: u64, timeout_ms: i32) -> i32;
    }
    polls.clear();
    polls.push(PollFd {
        fd: bell.as_raw_fd(),
        events: POLLIN,
        revents: 0,
    });
    // Un descriptor negativo no se vigila: las colas sin socket ocupan su
    // lugar para que el índice de `polls` siga al de `parked`.
    polls.extend(parked.iter().map(|entry| PollFd {
        fd: entry.fd.unwrap_or(-1),
        events: POLLOUT,
        revents: 0,
    }));
    let timeout_ms = timeout.map_or(-1, |t| {
        i32::try_from(t.as_millis().max(1)).unwrap_or(i32::MAX)
    });
    // SAFETY: `polls` es un arreglo válido de `polls.len()` entradas con el
    // formato de `struct pollfd`, y vive durante toda la llamada; los
    // descriptores son de sockets que `parked` mantiene abiertos.
    let ready = unsafe { poll(polls.as_mut_ptr(), polls.len() as u64, timeout_ms) };
    for (entry, poll) in parked.iter_mut().zip(&polls[1..]) {
        // POLLOUT, o POLLERR/POLLHUP: el `send` dirá qué pasó.
        entry.ready = entry.fd.is_none() || poll.revents != 0;
    }
    match ready {
        0 => Wait::TimedOut,
        n if n < 0 => {
            // EINTR u otro error: se vuelve a intentar todo, sin apuro.
            thread::sleep(STALL_RETRY);
            for entry in parked.iter_mut() {
                entry.ready = true;
            }
            Wait::Writable
        }
        _ if polls[0].revents != 0 => Wait::Rang,
        _ => Wait::Writable,
    }
}

/// Devuelve al sistema operativo las páginas libres del `malloc` de glibc.
///
/// Liberar memoria (`free`) no la devuelve al sistema: glibc la guarda en
/// sus *arenas* para reusarla, y el RSS del proceso no baja. Tras una
/// ráfaga (10.000 clientes entrando, con sus 50 millones de avisos de
/// ingreso pasando por las colas) el servidor retenía así unos 240 MiB que
/// ya no usaba (medido con `pmap -x`). `malloc_trim(0)`
/// recorre las arenas y devuelve cada página libre con `madvise`. Cuesta
/// unos milisegundos, por eso solo lo llama el flusher tras un segundo de
/// calma. Es una función de glibc, no de POSIX: en otros sistemas no hace
/// nada.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn release_free_memory() {
    unsafe extern "C" {
        fn malloc_trim(pad: usize) -> i32;
    }
    // SAFETY: `malloc_trim` no toma punteros y se puede llamar desde
    // cualquier hilo en cualquier momento; solo reordena el montículo.
    unsafe {
        malloc_trim(0);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn release_free_memory() {}
