//! La cola de salida de cada cliente (*outbox*). Las colas atascadas las
//! termina de escribir el hilo [`crate::extra::rendimiento::flusher`].
//!
//! El problema que resuelve: si el hilo de alice escribiera directamente en
//! el socket de bob y bob dejara de leer, el `write` se bloquearía cuando se
//! llenara el búfer del kernel, y alice (y todo el que le hable a bob) quedaría
//! colgado. Aquí cada mensaje se agrega a la cola de bob; quien lo agrega
//! escribe en el socket solo si nadie más lo está haciendo, y sin esperar
//! nunca (`send` con `MSG_DONTWAIT`); si el socket no acepta más, deja el
//! resto al *flusher* y sigue con lo suyo. Una cola que supera su límite de
//! bytes desconecta a su cliente, y las colas que el flusher tiene a cargo
//! comparten un techo global: al pasarlo, se desconecta primero al cliente
//! con más atraso. La memoria nunca crece sin tope por clientes lentos, ni
//! por uno ni por cientos.
//!
//! Coalescencia: todo lo que se acumuló en la cola mientras alguien
//! escribía sale en un solo `write`. Y un hilo lector puede abrir una
//! *tanda* ([`WriteBatch`]) mientras procesa todas las líneas que ya tiene
//! leídas: en la tanda, sus entregas solo se encolan, y al cerrarla escribe
//! cada cola tocada una vez. Diez líneas para bob cuestan un `write`, no
//! diez: así el servidor supera el techo de "un `write` por línea".
//!
//! No sabe de protocolo ni de usuarios: mueve bytes hacia un [`Link`]. No
//! espera a los sockets llenos: eso es del flusher.

use crate::curso::seams::{Output, Outputs};
pub use crate::extra::rendimiento::flusher::Flusher;
use crate::extra::rendimiento::flusher::{Drain, Parked, STALL_RETRY};
use crate::extra::stats::{COUNTERS, Counters};
use std::cell::RefCell;
use std::collections::VecDeque;
use std::io;
use std::net::{Shutdown, TcpStream};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError, Weak};
use std::thread;
use std::time::{Duration, Instant};

/// Límite por defecto de bytes pendientes por cliente: 1 MiB.
pub const DEFAULT_QUEUE_LIMIT: usize = 1024 * 1024;

/// Tiempo máximo que un `write` espera a un socket lleno, en los sistemas
/// donde [`Link`] no puede enviar sin esperar (en Linux, `MSG_DONTWAIT` hace
/// que no espere nada). Se aplica al socket con `set_write_timeout`.
pub const WRITE_TIMEOUT: Duration = Duration::from_millis(5);

/// Capacidad inicial, en bytes, de una cola que recibe su primer mensaje.
///
/// ¿Por qué no dejar que crezca sola desde 35 bytes? Porque quien agrega a
/// una cola que ya tiene algo la agranda (`realloc`) y libera el búfer
/// anterior *en su propio hilo*; glibc guarda hasta 7 bloques liberados de
/// cada tamaño de hasta 1032 bytes en una caché por hilo (*tcache*) que no
/// devuelve nunca. Un aviso de ingreso a 10.000 colas agranda miles de ellas,
/// y cada uno de los 10.000 hilos de cliente terminaba con ~8 KiB retenidos
/// en esa caché: 80 MiB de RSS (medido con
/// `GLIBC_TUNABLES=glibc.malloc.tcache_max=128`). Empezando en 2 KiB, ningún
/// búfer de cola cabe en la caché.
const QUEUE_MIN_CAPACITY: usize = 2048;

/// A dónde van los bytes: un socket TCP en el servidor, un sustituto en
/// memoria en las pruebas.
pub trait Link: Send + Sync + 'static {
    /// Escribe una parte de `bytes` y dice cuántos bytes salieron, como
    /// `Write::write`. Un socket lleno responde `WouldBlock` o `TimedOut`.
    fn send(&self, bytes: &[u8]) -> io::Result<usize>;
    /// Cierra la conexión en ambos sentidos; el hilo lector del cliente ve
    /// fin de flujo y termina.
    fn close(&self);
    /// El descriptor del socket, para que el flusher espere con `poll(2)` a
    /// que acepte más; `None` si no hay socket (se reintenta cada tanto).
    fn descriptor(&self) -> Option<i32> {
        None
    }
    /// Bytes de este cliente que el destino ya tomó pero todavía guarda
    /// (el modo confiable de UDP: lo que está en vuelo sin acuse y lo que
    /// llegó adelantado): cuentan para el límite de la cola como si
    /// siguieran en ella. Un socket TCP no guarda nada: 0.
    fn held(&self) -> usize {
        0
    }
}

/// Un socket TCP compartido entre el hilo que lo lee y su cola, que le
/// escribe. `Arc` en vez de `try_clone` (que haría `dup` del descriptor):
/// un descriptor por cliente, no dos, importa con 10.000 clientes y un
/// `ulimit -n` de 20.000.
impl Link for Arc<TcpStream> {
    fn send(&self, bytes: &[u8]) -> io::Result<usize> {
        send_without_waiting(self, bytes)
    }

    fn close(&self) {
        // Si el otro extremo ya cerró, `shutdown` falla: no hay nada que hacer.
        let _ = self.shutdown(Shutdown::Both);
    }

    fn descriptor(&self) -> Option<i32> {
        use std::os::fd::AsRawFd;
        Some(self.as_raw_fd())
    }
}

/// Escribe en `stream` sin esperar nunca: si el búfer de envío del kernel
/// está lleno, falla de inmediato con `WouldBlock`.
///
/// ¿Por qué no un `write` con `set_write_timeout`? El socket es uno solo y
/// lo comparte el hilo que lo lee con un `read` bloqueante: no se puede
/// poner en modo no bloqueante sin romper esa lectura. El tiempo límite sí
/// se puede, pero cada socket atascado cuesta ese tiempo entero, y el
/// flusher recorre todos: con 300 clientes que no leían y 5 ms por socket,
/// un cliente que sí leía esperaba más de un segundo su línea.
/// `send(2)` con `MSG_DONTWAIT` no espera solo esta vez, sin
/// tocar el modo del socket; `MSG_NOSIGNAL`: un par que se fue da `EPIPE`
/// en vez de la señal `SIGPIPE`.
#[cfg(target_os = "linux")]
fn send_without_waiting(stream: &TcpStream, bytes: &[u8]) -> io::Result<usize> {
    use std::os::fd::AsRawFd;
    const MSG_DONTWAIT: i32 = 0x40;
    const MSG_NOSIGNAL: i32 = 0x4000;
    unsafe extern "C" {
        fn send(fd: i32, buf: *const u8, len: usize, flags: i32) -> isize;
    }
    // SAFETY: `bytes` es un búfer válido de `bytes.len()` bytes durante la
    // llamada, y el descriptor es de `stream`, que vive más que ella.
    let sent = unsafe {
        send(
            stream.as_raw_fd(),
            bytes.as_ptr(),
            bytes.len(),
            MSG_DONTWAIT | MSG_NOSIGNAL,
        )
    };
    usize::try_from(sent).map_err(|_| io::Error::last_os_error())
}

/// Fuera de Linux: un `write` común, que espera a lo sumo el
/// [`WRITE_TIMEOUT`] del socket.
#[cfg(not(target_os = "linux"))]
fn send_without_waiting(stream: &TcpStream, bytes: &[u8]) -> io::Result<usize> {
    use std::io::Write;
    // `Write` está implementado para `&TcpStream`: varios hilos pueden
    // escribir por la misma referencia; la cola garantiza que sea uno a la vez.
    (&*stream).write(bytes)
}

/// Qué pasó con un [`Outbox::push`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Push {
    /// Quedó en la cola (o ya salió por el socket).
    Queued,
    /// La cola está cerrada: el cliente se fue o se está yendo.
    Closed,
    /// La cola pasó su límite: se cerró la conexión del cliente.
    Overflow,
}

/// La cola de salida de un cliente.
pub struct Outbox {
    /// Ella misma: una cola se anota en una tanda o se pasa al flusher
    /// como `Arc`, y sus métodos reciben `&self` (así se la llama a través
    /// de [`Output`]).
    me: Weak<Outbox>,
    link: Box<dyn Link>,
    limit: usize,
    state: Mutex<State>,
    /// Se avisa cuando nadie queda escribiendo, si [`Outbox::finish`]
    /// espera (la cola ya no acepta mensajes).
    idle: Condvar,
    flusher: Arc<Flusher>,
}

struct State {
    /// Trozos completos de una cola larga, en orden de llegada, antes de
    /// `pending`. Una cola larga es una lista de trozos de hasta [`CHUNK`]
    /// bytes y no un solo búfer que se agranda: agrandar copia todo lo que
    /// había, y 300 colas atascadas que crecen al mismo ritmo se agrandaban
    /// juntas, en el mismo aviso a la sala (decenas de MB de copias mientras
    /// el lector de al lado esperaba su línea).
    full: VecDeque<Vec<u8>>,
    /// La suma de las capacidades de `full`, en bytes: se lleva al agregar
    /// y sacar trozos para no recorrer la lista en cada mensaje (una cola
    /// de 64 MiB son mil trozos).
    full_bytes: usize,
    /// El último trozo, al que se agregan los mensajes. En el camino rápido
    /// (un cliente que lee) es el único.
    pending: Vec<u8>,
    /// Bytes ya enviados del primer trozo (el primero de `full`, o
    /// `pending` si `full` está vacía): un envío parcial no mueve el resto.
    head: usize,
    /// Bytes sin enviar en toda la cola, contando el trozo que un `drain`
    /// esté escribiendo.
    queued: usize,
    /// Capacidad, en bytes, del trozo que un `drain` sacó de la cola para
    /// escribirlo sin el candado (0 si ninguno): sigue siendo memoria de la
    /// cola y cuenta para el techo.
    out: usize,
    /// Alguien (un hilo cliente o el flusher) está escribiendo en el socket;
    /// solo ese hilo escribe, así los mensajes nunca se entremezclan.
    flushing: bool,
    /// `false` desde que el cliente empezó a irse: no se aceptan mensajes.
    accepting: bool,
    closed: bool,
    /// La escritura está a cargo del flusher: sus bytes cuentan para el techo
    /// global. Las demás colas se vacían en el momento (o pasan aquí).
    parked: bool,
    /// Bytes de esta cola sumados ahora en [`Flusher::parked_bytes`].
    counted: usize,
}

impl State {
    /// Suelta todos los trozos: una cola vacía no retiene memoria (con
    /// 10.000 clientes quietos, cada búfer guardado se multiplica por 10.000).
    fn clear(&mut self) {
        self.full = VecDeque::new();
        self.full_bytes = 0;
        self.pending = Vec::new();
        self.head = 0;
        self.queued = 0;
        self.out = 0;
    }
}

/// Largo máximo de un trozo de cola, en bytes (ver [`State::full`]).
const CHUNK: usize = 64 * 1024;

/// Cómo terminó un intento de enviar un trozo.
enum Sent {
    /// Salió entero.
    All,
    /// El socket no acepta más por ahora.
    Full,
    /// La conexión se cerró o falló.
    Closed,
}

impl Outbox {
    /// Una cola vacía hacia `link`, de a lo sumo `limit` bytes pendientes.
    pub fn new(link: impl Link, limit: usize, flusher: &Arc<Flusher>) -> Arc<Outbox> {
        Arc::new_cyclic(|me| Outbox {
            me: Weak::clone(me),
            link: Box::new(link),
            limit,
            state: Mutex::new(State {
                full: VecDeque::new(),
                full_bytes: 0,
                pending: Vec::new(),
                head: 0,
                queued: 0,
                out: 0,
                flushing: false,
                accepting: true,
                closed: false,
                parked: false,
                counted: 0,
            }),
            idle: Condvar::new(),
            flusher: Arc::clone(flusher),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        crate::curso::sync::lock(&self.state)
    }

    /// Agrega `bytes` (una o más líneas completas) a la cola y, si nadie está
    /// escribiendo, los escribe ahora en el socket, sin esperar a un socket
    /// lleno. Si la cola pasaría de su límite, se vacía y se cierra la
    /// conexión ([`Push::Overflow`]). Si con estos bytes las colas del
    /// flusher pasan el techo global, se le pide que desconecte a quien
    /// más debe (que puede ser otro cliente, y no este).
    pub fn push(&self, bytes: &[u8]) -> Push {
        let mut state = self.lock();
        if state.closed || !state.accepting {
            return Push::Closed;
        }
        // El candado del destino (si guarda algo) se toma con el de la cola
        // tomado; el destino nunca toma el de una cola: el orden no se
        // invierte.
        if state.queued + self.link.held() + bytes.len() > self.limit {
            drop(state);
            Counters::add(&COUNTERS.overflow_disconnects, 1);
            self.fail();
            return Push::Overflow;
        }
        if !state.pending.is_empty() && state.pending.len() + bytes.len() > CHUNK {
            let chunk = std::mem::take(&mut state.pending);
            state.full_bytes += chunk.capacity();
            state.full.push_back(chunk);
        }
        if state.pending.capacity() == 0 {
            state.pending.reserve(bytes.len().max(QUEUE_MIN_CAPACITY));
        }
        state.pending.extend_from_slice(bytes);
        state.queued += bytes.len();
        if state.flushing {
            let over = state.parked && self.settle(&mut state);
            drop(state);
            if over {
                self.flusher.request_shedding();
            }
            return Push::Queued;
        }
        state.flushing = true;
        drop(state);
        // Dentro de una tanda, la escritura espera al cierre de la tanda; el
        // `flushing` ya tomado hace que otros hilos solo encolen mientras tanto.
        let deferred = BATCH.with(
            |batch| match (&mut *batch.borrow_mut(), self.me.upgrade()) {
                (Some(owned), Some(me)) => {
                    if owned.len() == owned.capacity() && owned.len() >= BATCH_SMALL {
                        owned.reserve(owned.len().max(BATCH_LARGE));
                    }
                    owned.push(me);
                    true
                }
                _ => false,
            },
        );
        if !deferred {
            self.write_out();
        }
        Push::Queued
    }

    /// Escribe lo pendiente; si el socket se llena, lo deja al flusher. Solo
    /// la llama quien puso `flushing = true`.
    fn write_out(&self) {
        if let Drain::Stalled { .. } = self.drain() {
            self.park();
            if let Some(me) = self.me.upgrade() {
                self.flusher.adopt([me as Arc<dyn Parked>]);
            }
        }
    }

    /// Bytes pendientes en la cola (para `:stats` y el techo).
    pub fn pending_bytes(&self) -> usize {
        self.lock().queued
    }

    /// `true` si la conexión se cerró (por error, desborde o cierre): la
    /// sala da por ido al usuario solo-UDP cuya cola se cerró.
    pub fn is_closed(&self) -> bool {
        self.lock().closed
    }

    /// Pasa la cola a cargo del flusher: desde ahora sus bytes cuentan para
    /// el techo global. Solo la llama quien tiene `flushing = true`.
    fn park(&self) {
        let mut state = self.lock();
        state.parked = true;
        self.settle(&mut state);
    }

    /// El descriptor del socket (ver [`Link::descriptor`]).
    fn descriptor(&self) -> Option<i32> {
        self.link.descriptor()
    }

    /// Pone la cuenta de `state` en el flusher al día: la memoria que ocupan
    /// sus búferes (su capacidad, no solo los bytes por enviar: un `Vec` que
    /// crece duplicándose puede reservar el doble) si está a su cargo, 0 si
    /// no. Se llama con el candado de la cola tomado. Devuelve `true` si la
    /// suma de todas quedó sobre el techo.
    fn settle(&self, state: &mut State) -> bool {
        let now = if state.parked {
            state.full_bytes + state.pending.capacity() + state.out
        } else {
            0
        };
        let over = self.flusher.account(state.counted, now);
        state.counted = now;
        over
    }

    /// Escribe todo lo pendiente. Solo la llama quien puso `flushing = true`.
    fn drain(&self) -> Drain {
        let mut progress = false;
        loop {
            // Se escribe sin el candado, de a un trozo: mientras tanto otros
            // encolan detrás, sin esperar a este socket.
            let (chunk, mut sent) = {
                let mut state = self.lock();
                if state.closed || state.queued == 0 {
                    return self.stop_writing(&mut state);
                }
                let head = std::mem::take(&mut state.head);
                let chunk = match state.full.pop_front() {
                    Some(chunk) => {
                        state.full_bytes -= chunk.capacity();
                        chunk
                    }
                    None => std::mem::take(&mut state.pending),
                };
                state.out = chunk.capacity();
                (chunk, head)
            };
            let before = sent;
            let result = self.send_from(&chunk, &mut sent);
            let mut state = self.lock();
            state.queued = state.queued.saturating_sub(sent - before);
            state.out = 0;
            progress |= sent > before;
            match result {
                Sent::All => {}
                Sent::Full if !state.closed => {
                    // Lo no escrito vuelve al frente, antes de lo que llegó
                    // mientras tanto: sin copiar nada.
                    state.full_bytes += chunk.capacity();
                    state.full.push_front(chunk);
                    state.head = sent;
                    self.settle(&mut state);
                    return Drain::Stalled { progress };
                }
                Sent::Full | Sent::Closed => {
                    drop(state);
                    self.fail();
                    return Drain::Closed;
                }
            }
        }
    }

    /// Termina la escritura de una cola vacía o cerrada: suelta sus búferes,
    /// la saca de la cuenta del flusher y avisa a quien espera en `finish`.
    fn stop_writing(&self, state: &mut State) -> Drain {
        state.clear();
        state.flushing = false;
        state.parked = false;
        self.settle(state);
        // Solo `finish` espera este aviso, y antes de esperar deja de
        // aceptar mensajes, con este mismo candado tomado: si acepta,
        // nadie espera, y no se avisa: el `Condvar` de `std` hace una
        // llamada al sistema (`futex`) en cada aviso, espere alguien o no,
        // y avisar siempre costaba una por mensaje entregado.
        if !state.accepting {
            self.idle.notify_all();
        }
        if state.closed {
            Drain::Closed
        } else {
            Drain::Idle
        }
    }

    /// Envía `chunk` desde el byte `*sent` hasta el final o hasta que el
    /// socket no acepte más; `*sent` queda en lo que salió.
    fn send_from(&self, chunk: &[u8], sent: &mut usize) -> Sent {
        while *sent < chunk.len() {
            match self.link.send(&chunk[*sent..]) {
                Ok(0) => return Sent::Closed,
                Ok(n) => *sent += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if is_full(&e) => return Sent::Full,
                Err(_) => return Sent::Closed,
            }
        }
        Sent::All
    }

    /// Cierra por error: descarta lo pendiente y corta la conexión.
    fn fail(&self) {
        {
            let mut state = self.lock();
            state.closed = true;
            state.flushing = false;
            state.clear();
            state.parked = false;
            self.settle(&mut state);
        }
        self.idle.notify_all();
        self.link.close();
    }

    /// Despedida ordenada: deja de aceptar mensajes, intenta entregar lo
    /// pendiente durante a lo sumo `grace` y cierra la conexión.
    pub fn finish(&self, grace: Duration) {
        let deadline = Instant::now() + grace;
        let mut state = self.lock();
        state.accepting = false;
        while state.flushing && !state.closed {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            // Envenenado o no, como `curso::sync::lock`.
            let waited = self.idle.wait_timeout(state, left);
            state = waited.unwrap_or_else(PoisonError::into_inner).0;
        }
        // Si nadie está escribiendo, escribe este hilo, con la misma
        // función que todos; el envío no espera, así que si el socket está
        // lleno se reintenta en un rato, sin gastar la CPU, hasta el plazo.
        let write = !state.flushing && !state.closed && state.queued > 0;
        state.flushing |= write;
        drop(state);
        while write && matches!(self.drain(), Drain::Stalled { .. }) && Instant::now() < deadline {
            thread::sleep(STALL_RETRY);
        }
        self.fail();
    }
}

/// Lo que el flusher ve de una cola (ver [`Parked`]).
impl Parked for Outbox {
    fn drain(&self) -> Drain {
        Outbox::drain(self)
    }

    fn fail(&self) {
        Outbox::fail(self);
    }

    fn pending_bytes(&self) -> usize {
        Outbox::pending_bytes(self)
    }

    fn descriptor(&self) -> Option<i32> {
        Outbox::descriptor(self)
    }
}

/// La salida de un cliente en el programa completo (ver [`Output`]).
impl Output for Outbox {
    fn send(&self, line: &[u8]) {
        self.push(line);
    }

    fn pending_bytes(&self) -> usize {
        Outbox::pending_bytes(self)
    }

    fn is_closed(&self) -> bool {
        Outbox::is_closed(self)
    }

    fn finish(&self, grace: Duration) {
        Outbox::finish(self, grace);
    }
}

/// Las colas del programa completo, para cada cliente TCP que se conecta
/// (ver [`Outputs`]): todas comparten un flusher.
pub struct Queues {
    /// El hilo que vacía las colas atascadas y cuida el techo global.
    pub flusher: Arc<Flusher>,
    /// Límite de bytes pendientes por cliente (`--max-queue-bytes`).
    pub limit: usize,
}

impl Outputs for Queues {
    fn open(&self, stream: Arc<TcpStream>) -> io::Result<Arc<dyn Output>> {
        // En Linux la cola nunca espera a un socket lleno (`MSG_DONTWAIT`);
        // en otros sistemas, a lo sumo esto.
        stream.set_write_timeout(Some(WRITE_TIMEOUT))?;
        Ok(Outbox::new(stream, self.limit, &self.flusher))
    }
}

/// Hasta este largo, la lista de una tanda crece sola (duplicándose); una
/// respuesta o un mensaje privado tocan una o dos colas.
const BATCH_SMALL: usize = 16;

/// Al pasar de [`BATCH_SMALL`], la lista salta a por lo menos este largo
/// (2 KiB de punteros): un aviso a toda la sala no la hace crecer de a
/// duplicaciones, y cada búfer intermedio liberado quedaría retenido en la
/// caché por hilo de `malloc` (la que guarda bloques de hasta 1032 bytes),
/// que con 10.000 hilos son decenas de MiB.
const BATCH_LARGE: usize = 256;

thread_local! {
    /// Las colas cuya escritura quedó a cargo de la tanda abierta en este
    /// hilo (`None`: no hay tanda).
    static BATCH: RefCell<Option<Vec<Arc<Outbox>>>> = const { RefCell::new(None) };
}

/// Una tanda de entregas: mientras vive, cada [`Outbox::push`] de este hilo
/// solo encola, y al soltarla (`drop`, también si hubo pánico) cada cola
/// tocada se escribe una vez. El hilo no debe bloquearse con una tanda
/// abierta (por ejemplo, leyendo del socket): las colas que tomó esperan.
pub struct WriteBatch {
    _not_send: std::marker::PhantomData<*const ()>,
}

impl WriteBatch {
    /// Abre una tanda en este hilo. Las tandas no se anidan: si ya había
    /// una abierta, esta se une a ella, y la primera que se cierra escribe
    /// todo (antes de tiempo, pero nada se pierde).
    pub fn begin() -> WriteBatch {
        BATCH.with(|batch| {
            batch.borrow_mut().get_or_insert_with(Vec::new);
        });
        WriteBatch {
            _not_send: std::marker::PhantomData,
        }
    }
}

/// Una tanda que tomó más colas que esto no las escribe ella misma: se las
/// pasa al flusher. Un aviso de ingreso con 10.000 usuarios en la sala
/// serían 10.000 `write` seguidos en el hilo de quien entró; en el flusher,
/// mientras recorre las colas, los avisos de otros ingresos se acumulan y
/// salen juntos en la siguiente pasada (la meta de `benches/carga.rs`:
/// 10.000 clientes dentro en 30 s).
pub const HAND_OFF_FANOUT: usize = 128;

impl Drop for WriteBatch {
    fn drop(&mut self) {
        let Some(owned) = BATCH.with(|batch| batch.borrow_mut().take()) else {
            return;
        };
        if owned.len() > HAND_OFF_FANOUT {
            let flusher = Arc::clone(&owned[0].flusher);
            for outbox in &owned {
                outbox.park();
            }
            flusher.adopt(owned.into_iter().map(|o| o as Arc<dyn Parked>));
            return;
        }
        for outbox in owned {
            outbox.write_out();
        }
    }
}

fn is_full(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    /// Un socket de mentira: guarda lo que recibe y puede "llenarse".
    #[derive(Clone, Default)]
    pub(crate) struct MemoryLink {
        pub(crate) written: Arc<Mutex<Vec<u8>>>,
        pub(crate) full: Arc<AtomicBool>,
        pub(crate) closed: Arc<AtomicBool>,
        pub(crate) writes: Arc<AtomicUsize>,
        /// Lo que el destino dice guardar (ver [`Link::held`]).
        pub(crate) held: Arc<AtomicUsize>,
    }

    impl MemoryLink {
        pub(crate) fn text(&self) -> String {
            String::from_utf8_lossy(&self.written.lock().expect("lock")).into_owned()
        }
    }

    impl Link for MemoryLink {
        fn send(&self, bytes: &[u8]) -> io::Result<usize> {
            if self.closed.load(Ordering::SeqCst) {
                return Err(io::ErrorKind::BrokenPipe.into());
            }
            if self.full.load(Ordering::SeqCst) {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            self.writes.fetch_add(1, Ordering::SeqCst);
            // Escribe como mucho 7 bytes, como un socket casi lleno.
            let n = bytes.len().min(7);
            self.written
                .lock()
                .expect("lock")
                .extend_from_slice(&bytes[..n]);
            Ok(n)
        }

        fn close(&self) {
            self.closed.store(true, Ordering::SeqCst);
        }

        fn held(&self) -> usize {
            self.held.load(Ordering::SeqCst)
        }
    }

    fn wait_until(mut condition: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !condition() {
            assert!(Instant::now() < deadline, "la condición nunca se cumplió");
            thread::yield_now();
        }
    }

    #[test]
    fn writes_everything_in_order_across_partial_writes() {
        let flusher = Flusher::start(0).expect("flusher");
        let link = MemoryLink::default();
        let outbox = Outbox::new(link.clone(), 1024, &flusher);
        assert_eq!(outbox.push(b"hola mundo\n"), Push::Queued);
        assert_eq!(outbox.push(b"chao\n"), Push::Queued);
        assert_eq!(link.text(), "hola mundo\nchao\n");
        assert_eq!(outbox.pending_bytes(), 0);
    }

    #[test]
    fn a_stalled_client_is_flushed_later_and_in_order() {
        let flusher = Flusher::start(0).expect("flusher");
        let link = MemoryLink::default();
        let outbox = Outbox::new(link.clone(), 1024, &flusher);
        link.full.store(true, Ordering::SeqCst);
        for i in 0..10 {
            assert_eq!(outbox.push(format!("línea {i}\n").as_bytes()), Push::Queued);
        }
        assert_eq!(link.text(), "");
        link.full.store(false, Ordering::SeqCst);
        let expected: String = (0..10).map(|i| format!("línea {i}\n")).collect();
        wait_until(|| link.text() == expected);
    }

    #[test]
    fn what_the_destination_holds_counts_toward_the_limit() {
        let flusher = Flusher::start(0).expect("flusher");
        let link = MemoryLink::default();
        let outbox = Outbox::new(link.clone(), 100, &flusher);
        link.full.store(true, Ordering::SeqCst);
        // Un par confiable con 80 bytes en vuelo sin acuse: la cola solo
        // tiene lugar para 20 más.
        link.held.store(80, Ordering::SeqCst);
        assert_eq!(outbox.push(&[b'x'; 15]), Push::Queued);
        assert_eq!(outbox.push(&[b'x'; 15]), Push::Overflow);
        assert!(link.closed.load(Ordering::SeqCst));
    }

    #[test]
    fn overflowing_the_limit_closes_the_connection() {
        let flusher = Flusher::start(0).expect("flusher");
        let link = MemoryLink::default();
        let outbox = Outbox::new(link.clone(), 100, &flusher);
        link.full.store(true, Ordering::SeqCst);
        let line = [b'x'; 30];
        assert_eq!(outbox.push(&line), Push::Queued);
        assert_eq!(outbox.push(&line), Push::Queued);
        assert_eq!(outbox.push(&line), Push::Queued);
        assert_eq!(outbox.push(&line), Push::Overflow);
        assert!(link.closed.load(Ordering::SeqCst));
        assert!(outbox.is_closed());
        assert_eq!(outbox.pending_bytes(), 0);
        assert_eq!(outbox.push(b"x"), Push::Closed);
    }

    #[test]
    fn a_batch_writes_each_queue_once_when_it_closes() {
        let flusher = Flusher::start(0).expect("flusher");
        let link = MemoryLink::default();
        let outbox = Outbox::new(link.clone(), 1024, &flusher);
        {
            let _batch = WriteBatch::begin();
            for i in 0..3 {
                outbox.push(format!("l{i}\n").as_bytes());
            }
            assert_eq!(link.text(), "", "nada sale antes de cerrar la tanda");
        }
        assert_eq!(link.text(), "l0\nl1\nl2\n");
        // 9 bytes a 7 bytes por `send`: dos llamadas, no tres `write` de línea.
        assert_eq!(link.writes.load(Ordering::SeqCst), 2);
        outbox.push(b"fuera\n");
        assert_eq!(link.text(), "l0\nl1\nl2\nfuera\n");
    }

    #[test]
    fn over_the_ceiling_the_longest_queue_is_cut_first() {
        // Techo entre todas las colas atascadas: cabe una de 3000 bytes y
        // una mínima, no una mínima más.
        let ceiling = 3000 + QUEUE_MIN_CAPACITY + QUEUE_MIN_CAPACITY / 2;
        let flusher = Flusher::start(ceiling).expect("flusher");
        let links: Vec<MemoryLink> = (0..3).map(|_| MemoryLink::default()).collect();
        let outboxes: Vec<_> = links
            .iter()
            .map(|link| {
                link.full.store(true, Ordering::SeqCst);
                Outbox::new(link.clone(), 10_000, &flusher)
            })
            .collect();
        assert_eq!(outboxes[0].push(&[b'a'; 3000]), Push::Queued);
        assert_eq!(outboxes[1].push(&[b'b'; 30]), Push::Queued);
        wait_until(|| flusher.parked_bytes() >= 3000 + QUEUE_MIN_CAPACITY);
        assert!(flusher.parked_bytes() <= ceiling);
        assert!(links.iter().all(|l| !l.closed.load(Ordering::SeqCst)));
        // Sobre el techo: se corta la cola más larga, no la que acaba de crecer.
        assert_eq!(outboxes[2].push(&[b'c'; 20]), Push::Queued);
        wait_until(|| links[0].closed.load(Ordering::SeqCst));
        assert!(flusher.parked_bytes() <= ceiling);
        assert!(!links[1].closed.load(Ordering::SeqCst));
        assert!(!links[2].closed.load(Ordering::SeqCst));
        // Las que quedan se entregan enteras cuando sus sockets se vacían.
        links[1].full.store(false, Ordering::SeqCst);
        links[2].full.store(false, Ordering::SeqCst);
        wait_until(|| links[1].text().len() == 30 && links[2].text().len() == 20);
        wait_until(|| flusher.parked_bytes() == 0);
    }

    /// Con un socket que acepta de a poco, lo pendiente sale entero y en
    /// orden aunque siga llegando más: el índice `head` avanza sin perder
    /// ni repetir bytes.
    #[test]
    fn a_slow_socket_gets_everything_in_order() {
        let flusher = Flusher::start(0).expect("flusher");
        let link = MemoryLink::default();
        let outbox = Outbox::new(link.clone(), 1 << 20, &flusher);
        link.full.store(true, Ordering::SeqCst);
        let mut expected = String::new();
        for i in 0..500 {
            let line = format!("línea {i}\n");
            expected.push_str(&line);
            assert_eq!(outbox.push(line.as_bytes()), Push::Queued);
            // El socket se abre y se cierra mientras llegan líneas.
            link.full.store(i % 3 == 0, Ordering::SeqCst);
        }
        link.full.store(false, Ordering::SeqCst);
        wait_until(|| link.text().len() == expected.len());
        assert_eq!(link.text(), expected);
        wait_until(|| flusher.parked_bytes() == 0);
    }

    /// Una cola de varios trozos ([`CHUNK`]) sale entera y en orden, y su
    /// memoria cuenta para el techo mientras está a cargo del flusher.
    #[test]
    fn a_long_queue_spans_chunks_in_order() {
        let flusher = Flusher::start(0).expect("flusher");
        let link = MemoryLink::default();
        let outbox = Outbox::new(link.clone(), 1 << 20, &flusher);
        link.full.store(true, Ordering::SeqCst);
        let mut expected = Vec::new();
        for i in 0..300u32 {
            let line = format!("{i:04} {}\n", "x".repeat(995)).into_bytes();
            expected.extend_from_slice(&line);
            assert_eq!(outbox.push(&line), Push::Queued);
        }
        assert_eq!(outbox.pending_bytes(), expected.len());
        wait_until(|| flusher.parked_bytes() >= expected.len());
        {
            let state = outbox.lock();
            assert!(state.full.len() >= 4, "300 KB son varios trozos");
            let sum: usize = state.full.iter().map(Vec::capacity).sum();
            assert_eq!(state.full_bytes, sum);
        }
        link.full.store(false, Ordering::SeqCst);
        wait_until(|| link.written.lock().expect("lock").len() == expected.len());
        assert!(*link.written.lock().expect("lock") == expected);
        wait_until(|| flusher.parked_bytes() == 0);
        assert_eq!(outbox.pending_bytes(), 0);
    }

    /// Un socket lleno no hace esperar a quien le escribe, aunque tenga un
    /// tiempo límite de escritura largo: antes, cada socket atascado costaba
    /// ese tiempo entero al flusher, que los recorre uno tras otro.
    #[test]
    fn a_full_socket_refuses_at_once_instead_of_waiting() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let writer = TcpStream::connect(listener.local_addr().expect("addr")).expect("connect");
        let (_reader_never_reads, _) = listener.accept().expect("accept");
        writer
            .set_write_timeout(Some(Duration::from_secs(20)))
            .expect("timeout");
        let link = Arc::new(writer);
        let chunk = vec![b'x'; 64 * 1024];
        // Búferes del kernel de los dos lados: unos MiB. 1 GiB es un tope holgado.
        for _ in 0..16 * 1024 {
            let started = Instant::now();
            match link.send(&chunk) {
                Ok(n) => assert!(n > 0),
                Err(e) => {
                    assert!(is_full(&e), "{e}");
                    assert!(
                        started.elapsed() < Duration::from_secs(10),
                        "el envío esperó {:?} a un socket lleno",
                        started.elapsed()
                    );
                    return;
                }
            }
        }
        panic!("el socket nunca se llenó");
    }

    #[test]
    fn finish_delivers_what_is_pending_then_closes() {
        let flusher = Flusher::start(0).expect("flusher");
        let link = MemoryLink::default();
        let outbox = Outbox::new(link.clone(), 1024, &flusher);
        link.full.store(true, Ordering::SeqCst);
        outbox.push(b"adios\n");
        link.full.store(false, Ordering::SeqCst);
        outbox.finish(Duration::from_secs(5));
        assert_eq!(link.text(), "adios\n");
        assert!(link.closed.load(Ordering::SeqCst));
        assert_eq!(outbox.push(b"tarde\n"), Push::Closed);
    }

    /// Un socket cuyo `send` espera a que se abra una compuerta.
    struct GatedLink {
        inner: MemoryLink,
        entered: Arc<AtomicBool>,
        gate: Arc<(Mutex<bool>, Condvar)>,
    }

    impl Link for GatedLink {
        fn send(&self, bytes: &[u8]) -> io::Result<usize> {
            self.entered.store(true, Ordering::SeqCst);
            let (open, changed) = &*self.gate;
            let mut open = open.lock().expect("lock");
            while !*open {
                open = changed.wait(open).expect("wait");
            }
            self.inner.send(bytes)
        }

        fn close(&self) {
            self.inner.close();
        }

        fn held(&self) -> usize {
            self.inner.held()
        }
    }

    /// `finish` espera al hilo que está escribiendo y despierta en cuanto
    /// termina: no se pierde el aviso aunque solo se avise a quien espera.
    #[test]
    fn finish_wakes_as_soon_as_the_writer_is_done() {
        let flusher = Flusher::start(0).expect("flusher");
        let memory = MemoryLink::default();
        let entered = Arc::new(AtomicBool::new(false));
        let gate = Arc::new((Mutex::new(false), Condvar::new()));
        let link = GatedLink {
            inner: memory.clone(),
            entered: Arc::clone(&entered),
            gate: Arc::clone(&gate),
        };
        let outbox = Outbox::new(link, 1024, &flusher);
        let writer = {
            let outbox = Arc::clone(&outbox);
            thread::spawn(move || outbox.push(b"hola\n"))
        };
        wait_until(|| entered.load(Ordering::SeqCst));
        let finisher = {
            let outbox = Arc::clone(&outbox);
            thread::spawn(move || {
                let started = Instant::now();
                outbox.finish(Duration::from_secs(120));
                started.elapsed()
            })
        };
        // `finish` deja de aceptar con el candado tomado y solo lo suelta al
        // esperar: si se ve que ya no acepta, está esperando.
        wait_until(|| !outbox.lock().accepting);
        *gate.0.lock().expect("lock") = true;
        gate.1.notify_all();
        assert_eq!(writer.join().expect("writer"), Push::Queued);
        let waited = finisher.join().expect("finisher");
        // Sin el aviso, esperaría el plazo entero: 120 s.
        assert!(waited < Duration::from_secs(60), "finish esperó {waited:?}");
        assert_eq!(memory.text(), "hola\n");
        assert!(memory.closed.load(Ordering::SeqCst));
    }
}
