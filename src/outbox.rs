//! La cola de salida de cada cliente (*outbox*) y el hilo compartido que
//! vacía las colas de los clientes atascados (*flusher*).
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
//! por uno ni por cientos (issue #13, punto 4).
//!
//! Coalescencia: todo lo que se acumuló en la cola mientras alguien
//! escribía sale en un solo `write`. Y un hilo lector puede abrir una
//! *tanda* ([`WriteBatch`]) mientras procesa todas las líneas que ya tiene
//! leídas: en la tanda, sus entregas solo se encolan, y al cerrarla escribe
//! cada cola tocada una vez. Diez líneas para bob cuestan un `write`, no
//! diez: así el servidor supera el techo de "un `write` por línea" (issue #5).
//!
//! No sabe de protocolo ni de usuarios: mueve bytes hacia un [`Link`].

use std::cell::RefCell;
use std::io;
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

/// Límite por defecto de bytes pendientes por cliente: 1 MiB (issue #2).
pub const DEFAULT_QUEUE_LIMIT: usize = 1024 * 1024;

/// Techo por defecto de bytes pendientes en todas las colas que el flusher
/// tiene a cargo, juntas: 64 MiB (`--max-total-queue-bytes`, issue #13).
/// Con el límite por cliente de 1 MiB, 300 clientes que no leen llevaban el
/// servidor a 315 MiB; con el techo, el que más debe se desconecta antes.
pub const DEFAULT_TOTAL_QUEUE_LIMIT: usize = 64 * 1024 * 1024;

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
/// en esa caché: 80 MiB de RSS (medido en el issue #5 con
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
}

/// Escribe en `stream` sin esperar nunca: si el búfer de envío del kernel
/// está lleno, falla de inmediato con `WouldBlock`.
///
/// ¿Por qué no un `write` con `set_write_timeout`? El socket es uno solo y
/// lo comparte el hilo que lo lee con un `read` bloqueante: no se puede
/// poner en modo no bloqueante sin romper esa lectura. El tiempo límite sí
/// se puede, pero cada socket atascado cuesta ese tiempo entero, y el
/// flusher recorre todos: con 300 clientes que no leían y 5 ms por socket,
/// un cliente que sí leía esperaba más de un segundo su línea (issue #13,
/// punto 4). `send(2)` con `MSG_DONTWAIT` no espera solo esta vez, sin
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Drain {
    /// Todo salió; nadie está escribiendo.
    Idle,
    /// El socket no acepta más por ahora; quien escribía sigue a cargo.
    /// `progress`: salió algo antes de llenarse.
    Stalled { progress: bool },
    /// La conexión está cerrada.
    Closed,
}

/// La cola de salida de un cliente.
pub struct Outbox {
    link: Box<dyn Link>,
    limit: usize,
    state: Mutex<State>,
    /// Se avisa cada vez que nadie queda escribiendo (para [`Outbox::finish`]).
    idle: Condvar,
    flusher: Arc<Flusher>,
}

struct State {
    /// Bytes por enviar, desde `pending[head]`: lo anterior ya salió. Con
    /// el índice, un envío parcial no mueve el resto de la cola (con 1 MiB
    /// pendiente y un socket que acepta de a 4 KiB, mover el resto cada vez
    /// costaba un MiB de copia por cada 4 KiB enviados).
    pending: Vec<u8>,
    head: usize,
    /// Capacidad, en bytes, del búfer que un `drain` sacó de la cola para
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

impl Outbox {
    /// Una cola vacía hacia `link`, de a lo sumo `limit` bytes pendientes.
    pub fn new(link: impl Link, limit: usize, flusher: &Arc<Flusher>) -> Arc<Outbox> {
        Arc::new(Outbox {
            link: Box::new(link),
            limit,
            state: Mutex::new(State {
                pending: Vec::new(),
                head: 0,
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
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Agrega `bytes` (una o más líneas completas) a la cola y, si nadie está
    /// escribiendo, los escribe ahora en el socket, sin esperar a un socket
    /// lleno. Si la cola pasaría de su límite, se vacía y se cierra la
    /// conexión ([`Push::Overflow`]). Si con estos bytes las colas del
    /// flusher pasan el techo global, se le pide que desconecte a quien
    /// más debe (que puede ser otro cliente, y no este).
    pub fn push(self: &Arc<Self>, bytes: &[u8]) -> Push {
        let mut state = self.lock();
        if state.closed || !state.accepting {
            return Push::Closed;
        }
        if state.pending.len() - state.head + bytes.len() > self.limit {
            drop(state);
            self.fail();
            return Push::Overflow;
        }
        if state.pending.capacity() == 0 {
            state.pending.reserve(bytes.len().max(QUEUE_MIN_CAPACITY));
        }
        state.pending.extend_from_slice(bytes);
        if state.flushing {
            let over = state.parked && self.flusher.settle(&mut state);
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
        let deferred = BATCH.with(|batch| match &mut *batch.borrow_mut() {
            Some(owned) => {
                owned.push(Arc::clone(self));
                true
            }
            None => false,
        });
        if !deferred {
            self.write_out();
        }
        Push::Queued
    }

    /// Agrega la misma línea a varias colas (un aviso a toda la sala), como
    /// [`Outbox::push`] en cada una. Dentro de una tanda, reserva primero el
    /// lugar para todas: la lista de la tanda no crece de a duplicaciones
    /// (cada búfer intermedio liberado quedaría retenido en la caché por
    /// hilo de `malloc`, y con 10.000 hilos eso son decenas de MiB).
    pub fn push_all(outboxes: &[Arc<Outbox>], bytes: &[u8]) {
        BATCH.with(|batch| {
            if let Some(owned) = &mut *batch.borrow_mut() {
                owned.reserve(outboxes.len());
            }
        });
        for outbox in outboxes {
            outbox.push(bytes);
        }
    }

    /// Escribe lo pendiente; si el socket se llena, lo deja al flusher. Solo
    /// la llama quien puso `flushing = true`.
    fn write_out(self: &Arc<Self>) {
        if let Drain::Stalled { .. } = self.drain() {
            self.flusher.adopt(Arc::clone(self));
        }
    }

    /// Bytes pendientes en la cola.
    pub fn pending_bytes(&self) -> usize {
        let state = self.lock();
        state.pending.len() - state.head
    }

    /// `true` si la conexión se cerró (por error, desborde o cierre).
    pub fn is_closed(&self) -> bool {
        self.lock().closed
    }

    /// Pasa la cola a cargo del flusher: desde ahora sus bytes cuentan para
    /// el techo global. Solo la llama quien tiene `flushing = true`.
    fn park(&self) {
        let mut state = self.lock();
        state.parked = true;
        self.flusher.settle(&mut state);
    }

    /// Escribe todo lo pendiente. Solo la llama quien puso `flushing = true`.
    fn drain(&self) -> Drain {
        let mut progress = false;
        loop {
            let (mut batch, mut sent) = {
                let mut state = self.lock();
                if state.closed || state.pending.len() == state.head {
                    // Una cola vacía no retiene memoria: con 10.000 clientes
                    // quietos, cada búfer guardado se multiplica por 10.000.
                    state.pending = Vec::new();
                    state.head = 0;
                    state.out = 0;
                    state.flushing = false;
                    state.parked = false;
                    self.flusher.settle(&mut state);
                    self.idle.notify_all();
                    return if state.closed {
                        Drain::Closed
                    } else {
                        Drain::Idle
                    };
                }
                // Se escribe sin el candado: mientras tanto otros encolan en
                // un búfer nuevo, sin esperar a este socket.
                let batch = std::mem::take(&mut state.pending);
                state.out = batch.capacity();
                (batch, std::mem::take(&mut state.head))
            };
            while sent < batch.len() {
                match self.link.send(&batch[sent..]) {
                    Ok(0) => {
                        self.fail();
                        return Drain::Closed;
                    }
                    Ok(n) => {
                        sent += n;
                        progress = true;
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) if is_full(&e) => {
                        // Lo no escrito vuelve a ser la cola, y lo que llegó
                        // mientras tanto va detrás, para no desordenar: se
                        // copia solo lo nuevo, no lo que ya esperaba.
                        let mut state = self.lock();
                        if state.closed {
                            return Drain::Closed;
                        }
                        batch.extend_from_slice(&state.pending);
                        // Lo ya enviado se descarta cuando es más de la
                        // mitad: cada byte se mueve a lo sumo una vez.
                        if sent > batch.len() / 2 {
                            batch.drain(..sent);
                            sent = 0;
                        }
                        state.pending = batch;
                        state.head = sent;
                        state.out = 0;
                        self.flusher.settle(&mut state);
                        return Drain::Stalled { progress };
                    }
                    Err(_) => {
                        self.fail();
                        return Drain::Closed;
                    }
                }
            }
        }
    }

    /// Cierra por error: descarta lo pendiente y corta la conexión.
    fn fail(&self) {
        {
            let mut state = self.lock();
            state.closed = true;
            state.flushing = false;
            state.pending = Vec::new();
            state.head = 0;
            state.out = 0;
            state.parked = false;
            self.flusher.settle(&mut state);
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
            state = self
                .idle
                .wait_timeout(state, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        if !state.flushing && !state.closed && state.pending.len() > state.head {
            state.flushing = true;
            let batch = std::mem::take(&mut state.pending);
            let mut sent = std::mem::take(&mut state.head);
            drop(state);
            while sent < batch.len() && Instant::now() < deadline {
                match self.link.send(&batch[sent..]) {
                    Ok(0) => break,
                    Ok(n) => sent += n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    // El envío no espera: se reintenta en un rato, sin
                    // gastar la CPU en un bucle.
                    Err(e) if is_full(&e) => thread::sleep(STALL_RETRY),
                    Err(_) => break,
                }
            }
        } else {
            drop(state);
        }
        self.fail();
    }
}

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
/// salen juntos en la siguiente pasada (issue #5: 10.000 clientes en 30 s).
pub const HAND_OFF_FANOUT: usize = 128;

impl Drop for WriteBatch {
    fn drop(&mut self) {
        let Some(owned) = BATCH.with(|batch| batch.borrow_mut().take()) else {
            return;
        };
        if owned.len() > HAND_OFF_FANOUT {
            let flusher = Arc::clone(&owned[0].flusher);
            flusher.adopt_all(owned);
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

/// El hilo compartido que termina de escribir las colas de los clientes cuyo
/// socket estaba lleno. Uno para todo el servidor: un hilo escritor por
/// cliente duplicaría los hilos (ver el issue #5: el kernel limita la cantidad
/// de *mappings* de memoria, y cada hilo usa cuatro).
///
/// Lleva la cuenta de los bytes pendientes en las colas a su cargo y los
/// mantiene bajo un techo (`--max-total-queue-bytes`): al pasarlo,
/// desconecta primero al cliente con la cola más larga. Solo cuenta esas
/// colas porque son las únicas que crecen: las demás se vacían en el
/// `write` del que encola, y contarlas costaría una operación atómica
/// compartida por cada mensaje del camino rápido.
pub struct Flusher {
    /// Colas recién entregadas; el hilo del flusher las pasa a su lista.
    incoming: Mutex<Vec<Arc<Outbox>>>,
    wake: Condvar,
    /// Suma de `counted` de todas las colas a cargo del flusher, en bytes.
    parked_bytes: AtomicUsize,
    /// Techo de `parked_bytes`, en bytes; `usize::MAX` = sin techo.
    ceiling: usize,
}

/// Primera espera antes de reintentar una cola atascada.
const STALL_RETRY: Duration = Duration::from_millis(1);

/// Espera máxima entre reintentos a una cola que no avanza: la espera se
/// duplica en cada intento sin progreso hasta este tope. Un cliente que
/// vuelve a leer recibe lo suyo a lo sumo este tiempo después; uno que no
/// lee nunca cuesta una llamada `send` cada 64 ms, no mil por segundo.
const STALL_RETRY_MAX: Duration = Duration::from_millis(64);

/// Una cola a cargo del flusher y cuándo volver a intentarla.
struct Parked {
    outbox: Arc<Outbox>,
    retry_at: Instant,
    backoff: Duration,
}

impl Flusher {
    /// Crea el flusher y arranca su hilo. `ceiling`: techo de bytes
    /// pendientes entre todas las colas a su cargo (0 = sin techo). Error:
    /// el de `thread::spawn` si el sistema no puede crear otro hilo.
    pub fn start(ceiling: usize) -> io::Result<Arc<Flusher>> {
        let flusher = Arc::new(Flusher {
            incoming: Mutex::new(Vec::new()),
            wake: Condvar::new(),
            parked_bytes: AtomicUsize::new(0),
            ceiling: if ceiling == 0 { usize::MAX } else { ceiling },
        });
        let worker = Arc::clone(&flusher);
        thread::Builder::new()
            .name("flusher".into())
            .spawn(move || worker.run())?;
        Ok(flusher)
    }

    /// Bytes pendientes ahora en las colas a cargo del flusher.
    pub fn parked_bytes(&self) -> usize {
        self.parked_bytes.load(Ordering::Relaxed)
    }

    fn lock(&self) -> MutexGuard<'_, Vec<Arc<Outbox>>> {
        self.incoming.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Pone la cuenta de `state` al día: la memoria que ocupan sus búferes
    /// (su capacidad, no solo los bytes por enviar: un `Vec` que crece
    /// duplicándose puede reservar el doble) si está a cargo del flusher, 0
    /// si no. Se llama con el candado de la cola tomado, así la suma nunca
    /// se desfasa de las colas. Devuelve `true` si la suma quedó sobre el
    /// techo.
    fn settle(&self, state: &mut State) -> bool {
        let now = if state.parked {
            state.pending.capacity() + state.out
        } else {
            0
        };
        let total = if now >= state.counted {
            let added = now - state.counted;
            self.parked_bytes.fetch_add(added, Ordering::Relaxed) + added
        } else {
            let removed = state.counted - now;
            self.parked_bytes.fetch_sub(removed, Ordering::Relaxed) - removed
        };
        state.counted = now;
        total > self.ceiling
    }

    /// Despierta al hilo del flusher para que baje la suma bajo el techo.
    /// Toma su candado para que el aviso no se pierda entre que el hilo
    /// miró la suma y se durmió.
    fn request_shedding(&self) {
        drop(self.lock());
        self.wake.notify_one();
    }

    /// Recibe una cola atascada; quien la entrega le cede la escritura.
    fn adopt(&self, outbox: Arc<Outbox>) {
        outbox.park();
        self.lock().push(outbox);
        self.wake.notify_one();
    }

    /// Recibe varias colas cuya escritura se le cede.
    fn adopt_all(&self, outboxes: Vec<Arc<Outbox>>) {
        for outbox in &outboxes {
            outbox.park();
        }
        let mut incoming = self.lock();
        if incoming.is_empty() {
            *incoming = outboxes;
        } else {
            incoming.extend(outboxes);
        }
        drop(incoming);
        self.wake.notify_one();
    }

    fn run(&self) {
        // Las colas a cargo; solo este hilo la toca, sin candado.
        let mut parked: Vec<Parked> = Vec::new();
        // Hubo trabajo desde la última devolución de memoria al sistema.
        let mut busy = false;
        loop {
            {
                let mut incoming = self.lock();
                loop {
                    let now = Instant::now();
                    parked.extend(incoming.drain(..).map(|outbox| Parked {
                        outbox,
                        retry_at: now,
                        backoff: STALL_RETRY,
                    }));
                    if self.parked_bytes() > self.ceiling {
                        break;
                    }
                    let next = parked.iter().map(|p| p.retry_at).min();
                    if next.is_some_and(|at| at <= now) {
                        break;
                    }
                    incoming = match next {
                        Some(at) => {
                            self.wake
                                .wait_timeout(incoming, at - now)
                                .unwrap_or_else(PoisonError::into_inner)
                                .0
                        }
                        None if busy => {
                            let (guard, waited) = self
                                .wake
                                .wait_timeout(incoming, CALM_BEFORE_TRIM)
                                .unwrap_or_else(PoisonError::into_inner);
                            if waited.timed_out() && guard.is_empty() {
                                drop(guard);
                                // La lista vacía no retiene la capacidad
                                // que dejó una ráfaga de 10.000 colas.
                                parked = Vec::new();
                                release_free_memory();
                                busy = false;
                                self.lock()
                            } else {
                                guard
                            }
                        }
                        None => self
                            .wake
                            .wait(incoming)
                            .unwrap_or_else(PoisonError::into_inner),
                    };
                }
            }
            busy = true;
            self.shed(&parked);
            let now = Instant::now();
            parked.retain_mut(|entry| {
                if entry.retry_at > now {
                    return true;
                }
                match entry.outbox.drain() {
                    Drain::Stalled { progress } => {
                        entry.backoff = if progress {
                            STALL_RETRY
                        } else {
                            (entry.backoff * 2).min(STALL_RETRY_MAX)
                        };
                        entry.retry_at = now + entry.backoff;
                        true
                    }
                    Drain::Idle | Drain::Closed => false,
                }
            });
        }
    }

    /// Mientras la suma pase el techo, desconecta al cliente de la cola más
    /// larga. Cuesta recorrer la lista por cada desconectado, pero solo
    /// corre sobre el techo, que es un ataque o un servidor mal dimensionado.
    fn shed(&self, parked: &[Parked]) {
        while self.parked_bytes() > self.ceiling {
            let biggest = parked
                .iter()
                .map(|entry| (entry.outbox.pending_bytes(), &entry.outbox))
                .max_by_key(|(bytes, _)| *bytes);
            match biggest {
                Some((bytes, outbox)) if bytes > 0 => outbox.fail(),
                _ => return,
            }
        }
    }
}

/// Tras cuánto tiempo sin colas atascadas el flusher devuelve al sistema la
/// memoria libre (ver [`release_free_memory`]).
const CALM_BEFORE_TRIM: Duration = Duration::from_secs(1);

/// Devuelve al sistema operativo las páginas libres del `malloc` de glibc.
///
/// Liberar memoria (`free`) no la devuelve al sistema: glibc la guarda en
/// sus *arenas* para reusarla, y el RSS del proceso no baja. Tras una
/// ráfaga (10.000 clientes entrando, con sus 50 millones de avisos de
/// ingreso pasando por las colas) el servidor retenía así unos 240 MiB que
/// ya no usaba (medido con `pmap -x` en el issue #5). `malloc_trim(0)`
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
}
