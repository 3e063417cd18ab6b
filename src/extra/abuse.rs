//! Las reglas contra el abuso, como código puro: cuántas líneas
//! por segundo puede enviar un usuario ([`LineLimiter`], un *token bucket*)
//! y qué cuentas y direcciones están bloqueadas por adivinar contraseñas
//! ([`Blocklist`]). [`Guards`] los junta con la configuración y sus `Mutex`,
//! para que los compartan los hilos TCP y el hilo UDP.
//!
//! Quien envía de más por TCP no pierde nada: se lo **frena**
//! ([`Verdict::Delay`]). Su hilo deja de leer el socket hasta que el balde
//! tiene una ficha, el búfer de recepción del kernel se llena y el control
//! de flujo de TCP detiene al emisor; es lo que hacen los servidores de IRC
//! (RFC 1459 §8.10). Por UDP no hay cómo frenar a nadie: lo que pasa del
//! límite se descarta ([`Verdict::Drop`]) y se cuenta.
//!
//! Es la respuesta del programa completo al punto de enchufe
//! [`crate::curso::seams::Guard`] del curso (que no limita nada),
//! también para admitir conexiones TCP: los topes de `--max-clients` y
//! `--max-clients-per-ip` los lleva el registro de conexiones
//! ([`crate::extra::registry`]), que [`Admission`] une a los límites.
//!
//! No lee relojes ni sockets: cada función recibe el instante `now`, así
//! las pruebas deciden el tiempo. Cuánto esperar, qué se descarta y qué
//! aviso se envía lo hacen `servidor`, `session` y `udp` con lo que estas
//! funciones devuelven.

use crate::curso::protocolo::{Event, Problem, name_key};
use crate::curso::seams::{Attempt, Guard, Output, Pace, Place, Refusal};
use crate::curso::sync::lock;
use crate::extra::look_alike::{LookAlikes, reads_as_protocol};
use crate::extra::notices::{Notice, whole_seconds};
use crate::extra::registry::{Connections, Registered};
use std::collections::{HashMap, HashSet};
use std::hash::Hash;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Qué hacer con una línea que llega, según un límite de ritmo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Atenderla ya.
    Pass,
    /// (TCP) Atenderla después de esperar `wait` sin leer nada más; `warn`
    /// es `true` solo la primera vez de cada ráfaga, para que el aviso no
    /// sea otra inundación.
    Delay { wait: Duration, warn: bool },
    /// (UDP) Descartarla; `warn` es `true` solo para la primera descartada
    /// de cada ráfaga.
    Drop { warn: bool },
}

/// El ritmo propio de quien todavía no entró: una conexión TCP, o una
/// dirección UDP sin token. Lo crea [`Guards::anonymous_pacer`] y lo guarda
/// quien atiende a ese cliente.
pub trait Pacer: Send {
    /// Una línea por TCP a la hora `now`: pasa, o espera (nunca se
    /// descarta: quien envía de más por TCP solo va más lento).
    fn pace(&mut self, now: Instant) -> Verdict;
    /// Un datagrama a la hora `now`: pasa, o se descarta (por UDP no hay
    /// cómo frenar al emisor).
    fn check(&mut self, now: Instant) -> Verdict;
    /// Los datagramas descartados de una ráfaga que ya terminó, para
    /// anotarlos en la consola una vez.
    fn take_dropped(&mut self, now: Instant) -> Option<u32>;
    /// `true` si ya no recuerda nada que importe y se puede olvidar.
    fn is_calm(&self, now: Instant) -> bool;
}

/// Líneas por segundo por defecto (`--max-lines-per-sec`): más de lo que
/// escribe una persona, menos de lo que necesita un programa para inundar
/// la pantalla de los demás.
pub const DEFAULT_LINES_PER_SEC: u32 = 20;

/// La ráfaga permitida, en segundos de tasa: con 20 líneas/s se aceptan 60
/// líneas de golpe (pegar un texto, un guion con varios `:t`).
pub const BURST_SECONDS: u32 = 3;

/// Intentos fallidos de contraseña por defecto (`--max-signin-failures`),
/// por conexión y por cuenta.
pub const DEFAULT_MAX_SIGNIN_FAILURES: u32 = 5;

/// Intentos fallidos por defecto desde una misma dirección IP comprobada
/// (`--max-signin-failures-per-ip`): diez veces los de una cuenta, porque
/// detrás de una dirección puede haber un curso entero (una NAT, o todos en
/// `127.0.0.1`), y los errores de tipeo de uno no deben dejar afuera a
/// todos. Contra quien adivina una cuenta está el límite por cuenta.
pub const DEFAULT_MAX_SIGNIN_FAILURES_PER_IP: u32 = 50;

/// Cuentas nuevas por defecto desde una misma dirección IP comprobada sin
/// una hora de calma (`--max-registrations-per-ip`): un curso entero en una
/// sola máquina o detrás de una NAT (el mismo número que
/// `--max-clients-per-ip`), y no más: quien quiera reservar nombres en masa
/// queda bloqueado como quien adivina contraseñas.
pub const DEFAULT_MAX_REGISTRATIONS_PER_IP: u32 = 100;

/// El primer bloqueo de una dirección dura esto; cada bloqueo siguiente,
/// el doble, hasta [`MAX_BLOCK`].
pub const FIRST_BLOCK: Duration = Duration::from_secs(30);

/// El bloqueo más largo.
pub const MAX_BLOCK: Duration = Duration::from_secs(15 * 60);

/// Tras este tiempo sin fallos, una dirección se olvida: sus fallos y sus
/// bloqueos anteriores vuelven a cero.
pub const FORGET_AFTER: Duration = Duration::from_secs(60 * 60);

/// La tasa de líneas de un usuario: `per_sec` líneas por segundo en
/// promedio y ráfagas de hasta `burst` líneas.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineRate {
    /// Líneas por segundo que se reponen.
    pub per_sec: u32,
    /// Líneas que caben en el balde: la ráfaga más larga que se acepta.
    pub burst: u32,
}

impl LineRate {
    /// La tasa de `--max-lines-per-sec N`, con una ráfaga de
    /// [`BURST_SECONDS`] segundos. `None` si `per_sec` es 0 (sin límite).
    pub fn new(per_sec: u32) -> Option<LineRate> {
        (per_sec > 0).then(|| LineRate {
            per_sec,
            burst: per_sec.saturating_mul(BURST_SECONDS),
        })
    }
}

/// El *token bucket* de un usuario: el balde tiene hasta `burst` fichas,
/// se repone a `per_sec` fichas por segundo, y cada línea gasta una. Sin
/// fichas, una línea por TCP espera a la suya ([`LineLimiter::pace`]) y un
/// datagrama se descarta ([`LineLimiter::check`]). Una ráfaga termina
/// cuando el balde vuelve a llenarse (el usuario hizo una pausa).
#[derive(Debug, Clone)]
pub struct LineLimiter {
    /// Fichas disponibles; negativo mientras una línea frenada espera la
    /// ficha que ya tomó.
    tokens: f64,
    last: Instant,
    /// Ya se avisó en esta ráfaga.
    warned: bool,
    /// Datagramas descartados desde el último informe a la consola.
    dropped: u32,
}

impl LineLimiter {
    /// Un balde lleno en el instante `now`.
    pub fn new(rate: LineRate, now: Instant) -> LineLimiter {
        LineLimiter {
            tokens: f64::from(rate.burst),
            last: now,
            warned: false,
            dropped: 0,
        }
    }

    /// Repone las fichas del tiempo pasado hasta `now`.
    fn refill(&mut self, rate: LineRate, now: Instant) {
        let burst = f64::from(rate.burst);
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * f64::from(rate.per_sec)).min(burst);
        if self.tokens >= burst {
            // Hizo una pausa: la ráfaga anterior, si la hubo, terminó.
            self.warned = false;
        }
    }

    /// `true` la primera vez en la ráfaga (y la anota).
    fn first_warning(&mut self) -> bool {
        !std::mem::replace(&mut self.warned, true)
    }

    /// Una línea TCP que llegó en `now`: siempre se atiende, pero quizá
    /// después de esperar. Toma su ficha ya, aunque el balde quede en
    /// negativo: tras esperar `wait` (el tiempo que tarda en reponerse lo
    /// que falta), la cuenta vuelve a cero. Así, quien envía sin parar
    /// queda exactamente en `per_sec` líneas por segundo.
    pub fn pace(&mut self, rate: LineRate, now: Instant) -> Verdict {
        self.refill(rate, now);
        let verdict = if self.tokens >= 1.0 {
            Verdict::Pass
        } else {
            let missing = 1.0 - self.tokens;
            Verdict::Delay {
                wait: Duration::from_secs_f64(missing / f64::from(rate.per_sec)),
                warn: self.first_warning(),
            }
        };
        self.tokens -= 1.0;
        verdict
    }

    /// Un datagrama que llegó en `now`: se atiende si hay ficha; si no, se
    /// descarta y se cuenta (ver [`LineLimiter::take_dropped`]).
    pub fn check(&mut self, rate: LineRate, now: Instant) -> Verdict {
        self.refill(rate, now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            return Verdict::Pass;
        }
        self.dropped = self.dropped.saturating_add(1);
        Verdict::Drop {
            warn: self.first_warning(),
        }
    }

    /// Si la ráfaga terminó en `now` (el balde ya estaría lleno) y se
    /// descartaron datagramas en ella, cuántos (y vuelve a contar de cero).
    pub fn take_dropped(&mut self, rate: LineRate, now: Instant) -> Option<u32> {
        if self.dropped == 0 || !self.is_calm(rate, now) {
            return None;
        }
        Some(std::mem::take(&mut self.dropped))
    }

    /// `true` si en `now` el balde ya estaría lleno: el usuario está en
    /// calma y su estado se puede olvidar sin cambiar ninguna decisión.
    pub fn is_calm(&self, rate: LineRate, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens + elapsed * f64::from(rate.per_sec) >= f64::from(rate.burst)
    }
}

/// Lo que se sabe de una cuenta o una dirección que falló contraseñas (no
/// confundir con `storage::Record`, una cuenta guardada).
#[derive(Debug, Clone)]
struct Strikes {
    /// Fallos desde el último bloqueo.
    failures: u32,
    /// Bloqueos que ya recibió (cada uno dura el doble que el anterior).
    blocks: u32,
    blocked_until: Option<Instant>,
    last_failure: Instant,
}

/// Las cuentas (por nombre) o las direcciones IP que fallan contraseñas:
/// tras `max` fallos, la clave queda bloqueada [`FIRST_BLOCK`], luego el
/// doble cada vez. Mientras está bloqueada, sus intentos se rechazan sin
/// calcular ningún hash, así que adivinar no cuesta CPU al servidor.
#[derive(Debug)]
pub struct Blocklist<K> {
    max: u32,
    strikes: HashMap<K, Strikes>,
    /// Al llegar a este tamaño se olvidan las claves viejas.
    prune_at: usize,
}

/// Tamaño mínimo del mapa antes de limpiar registros viejos.
const PRUNE_MIN: usize = 1024;

impl<K: Hash + Eq + Clone> Blocklist<K> {
    /// Una lista vacía que bloquea tras `max` fallos (`max` > 0).
    pub fn new(max: u32) -> Blocklist<K> {
        Blocklist {
            max,
            strikes: HashMap::new(),
            prune_at: PRUNE_MIN,
        }
    }

    /// Si `key` está bloqueada en `now`, cuánto le falta.
    pub fn blocked(&self, key: &K, now: Instant) -> Option<Duration> {
        let until = self.strikes.get(key)?.blocked_until?;
        (until > now).then(|| until - now)
    }

    /// Anota un fallo de `key` en `now`. Devuelve la duración del bloqueo si
    /// con este fallo la clave quedó bloqueada.
    pub fn failed(&mut self, key: K, now: Instant) -> Option<Duration> {
        if self.strikes.len() >= self.prune_at {
            self.prune(now);
            self.prune_at = (self.strikes.len() * 2).max(PRUNE_MIN);
        }
        let strikes = self.strikes.entry(key).or_insert(Strikes {
            failures: 0,
            blocks: 0,
            blocked_until: None,
            last_failure: now,
        });
        if now.saturating_duration_since(strikes.last_failure) >= FORGET_AFTER {
            strikes.failures = 0;
            strikes.blocks = 0;
        }
        strikes.last_failure = now;
        strikes.failures += 1;
        if strikes.failures < self.max {
            return None;
        }
        let block = FIRST_BLOCK
            .saturating_mul(1 << strikes.blocks.min(16))
            .min(MAX_BLOCK);
        strikes.failures = 0;
        strikes.blocks += 1;
        strikes.blocked_until = Some(now + block);
        Some(block)
    }

    /// Olvida las claves sin bloqueo vigente y sin fallos recientes.
    fn prune(&mut self, now: Instant) {
        self.strikes.retain(|_, r| {
            r.blocked_until.is_some_and(|until| until > now)
                || now.saturating_duration_since(r.last_failure) < FORGET_AFTER
        });
    }
}

/// Los límites de `--max-lines-per-sec`, `--max-signin-failures` y
/// `--max-signin-failures-per-ip`; 0 los apaga.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Líneas por segundo por usuario.
    pub lines_per_sec: u32,
    /// Contraseñas fallidas por conexión y por cuenta.
    pub max_signin_failures: u32,
    /// Contraseñas fallidas por dirección IP comprobada.
    pub max_signin_failures_per_ip: u32,
    /// Intentos de `:register` por dirección IP comprobada.
    pub max_registrations_per_ip: u32,
}

impl Limits {
    /// Sin ningún límite (benchmarks, pruebas que inundan a propósito).
    pub const OFF: Limits = Limits {
        lines_per_sec: 0,
        max_signin_failures: 0,
        max_signin_failures_per_ip: 0,
        max_registrations_per_ip: 0,
    };
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            lines_per_sec: DEFAULT_LINES_PER_SEC,
            max_signin_failures: DEFAULT_MAX_SIGNIN_FAILURES,
            max_signin_failures_per_ip: DEFAULT_MAX_SIGNIN_FAILURES_PER_IP,
            max_registrations_per_ip: DEFAULT_MAX_REGISTRATIONS_PER_IP,
        }
    }
}

/// Los límites compartidos por todos los hilos: el balde de cada usuario
/// (el mismo por TCP y por UDP: el límite es del usuario, no de la
/// conexión) y la lista de direcciones bloqueadas.
pub struct Guards {
    /// `None`: sin límite de líneas.
    pub rate: Option<LineRate>,
    /// Fallos por conexión antes de cerrarla; 0 = sin límite.
    pub max_failures: u32,
    users: Arc<Mutex<Buckets>>,
    /// Por dirección IP; `None` sin límite.
    addresses: Option<Mutex<Blocklist<IpAddr>>>,
    /// Por cuenta (clave en minúsculas); `None` sin límite.
    accounts: Option<Mutex<Blocklist<String>>>,
    /// Cuentas nuevas por dirección IP; `None` sin límite.
    registrations: Option<Mutex<Blocklist<IpAddr>>>,
    /// Quién entra por TCP; `None`: todos, sin anotarlos.
    admission: Option<Admission>,
    /// Los nombres que se parecen a otros (ver [`LookAlikes`]).
    pub names: LookAlikes,
}

/// Las conexiones TCP abiertas y sus topes.
pub struct Admission {
    /// El registro, el mismo que recorre el apagado para despedir a todos.
    pub connections: Arc<Connections>,
    /// Conexiones abiertas a la vez (`--max-clients`; 0: sin tope).
    pub max: usize,
    /// Conexiones abiertas a la vez desde una dirección
    /// (`--max-clients-per-ip`; 0: sin tope).
    pub max_per_ip: usize,
    /// Plazo para iniciar sesión (`--signin-timeout-secs`; `None`: sin
    /// plazo). Lo hace cumplir [`crate::extra::signin_deadline`].
    pub signin_timeout: Option<Duration>,
}

/// Los baldes de los usuarios, y quiénes tienen datagramas descartados sin
/// informar (para no recorrer todos los baldes en cada revisión).
#[derive(Default)]
struct Buckets {
    by_name: HashMap<String, LineLimiter>,
    dropping: HashSet<String>,
}

impl Buckets {
    /// El balde de `name`, lleno en `now` si es nuevo. (Copia el nombre
    /// solo la primera vez: cada línea de un usuario pasa por aquí.)
    fn limiter(&mut self, name: &str, rate: LineRate, now: Instant) -> Option<&mut LineLimiter> {
        if !self.by_name.contains_key(name) {
            self.by_name
                .insert(name.to_string(), LineLimiter::new(rate, now));
        }
        self.by_name.get_mut(name)
    }
}

impl Guards {
    /// Los límites de `limits`, sin usuarios ni direcciones todavía.
    pub fn new(limits: Limits) -> Guards {
        Guards {
            rate: LineRate::new(limits.lines_per_sec),
            max_failures: limits.max_signin_failures,
            users: Arc::new(Mutex::new(Buckets::default())),
            addresses: (limits.max_signin_failures_per_ip > 0)
                .then(|| Mutex::new(Blocklist::new(limits.max_signin_failures_per_ip))),
            accounts: (limits.max_signin_failures > 0)
                .then(|| Mutex::new(Blocklist::new(limits.max_signin_failures))),
            registrations: (limits.max_registrations_per_ip > 0)
                .then(|| Mutex::new(Blocklist::new(limits.max_registrations_per_ip))),
            admission: None,
            names: LookAlikes::default(),
        }
    }

    /// Los mismos límites, que además anotan cada conexión TCP en
    /// `admission` y rechazan las que pasan sus topes.
    pub fn admitting(self, admission: Admission) -> Guards {
        Guards {
            admission: Some(admission),
            ..self
        }
    }

    /// El límite de líneas por segundo, si hay uno.
    pub fn lines_per_sec(&self) -> Option<u32> {
        self.rate.map(|rate| rate.per_sec)
    }

    /// El ritmo propio de una dirección UDP que envía sin token, creado a
    /// la hora `now`; `None`: sin límite.
    pub fn anonymous_pacer(&self, now: Instant) -> Option<Box<dyn Pacer>> {
        let rate = self.rate?;
        Some(Box::new(RatedPacer {
            limiter: LineLimiter::new(rate, now),
            rate,
        }))
    }

    /// Una línea TCP del usuario `name` en `now` (ver
    /// [`LineLimiter::pace`]): `Pass` o `Delay`; sin límite, siempre
    /// [`Verdict::Pass`].
    pub fn pace_line(&self, name: &str, now: Instant) -> Verdict {
        let Some(rate) = self.rate else {
            return Verdict::Pass;
        };
        let mut users = lock(&self.users);
        users
            .limiter(name, rate, now)
            .map_or(Verdict::Pass, |l| l.pace(rate, now))
    }

    /// Un datagrama del usuario `name` en `now` (ver
    /// [`LineLimiter::check`]): `Pass` o `Drop`; sin límite, siempre
    /// [`Verdict::Pass`].
    pub fn datagram_from(&self, name: &str, now: Instant) -> Verdict {
        let Some(rate) = self.rate else {
            return Verdict::Pass;
        };
        // Un solo candado para contar y, si se descartó, anotarlo para el
        // informe de la consola.
        let mut users = lock(&self.users);
        let verdict = users
            .limiter(name, rate, now)
            .map_or(Verdict::Pass, |l| l.check(rate, now));
        if matches!(verdict, Verdict::Drop { .. }) && !users.dropping.contains(name) {
            users.dropping.insert(name.to_string());
        }
        verdict
    }

    /// Las ráfagas de datagramas que terminaron en `now`: cada usuario con
    /// cuántos se le descartaron (para la consola).
    pub fn finished_floods(&self, now: Instant) -> Vec<(String, u32)> {
        let Some(rate) = self.rate else {
            return Vec::new();
        };
        let mut users = lock(&self.users);
        let Buckets { by_name, dropping } = &mut *users;
        let mut finished = Vec::new();
        dropping.retain(|name| {
            let Some(limiter) = by_name.get_mut(name) else {
                return false;
            };
            match limiter.take_dropped(rate, now) {
                Some(dropped) => {
                    finished.push((name.clone(), dropped));
                    false
                }
                None => true,
            }
        });
        finished
    }

    /// Olvida el balde de `name` si está en calma (al cerrar su sesión):
    /// así el mapa no crece con cada usuario que alguna vez entró, y quien
    /// vuelve a entrar tras inundar no recupera un balde lleno antes de
    /// tiempo. Devuelve los datagramas descartados que faltaba informar.
    pub fn forget_calm(&self, name: &str, now: Instant) -> Option<u32> {
        let rate = self.rate?;
        let mut users = lock(&self.users);
        if !users
            .by_name
            .get(name)
            .is_some_and(|l| l.is_calm(rate, now))
        {
            return None;
        }
        users.dropping.remove(name);
        let limiter = users.by_name.remove(name)?;
        (limiter.dropped > 0).then_some(limiter.dropped)
    }

    /// Si `ip` está bloqueada para iniciar sesión, cuánto le falta.
    pub fn blocked(&self, ip: IpAddr, now: Instant) -> Option<Duration> {
        lock(self.addresses.as_ref()?).blocked(&ip, now)
    }

    /// Anota una contraseña fallida desde `ip` (ver [`Blocklist::failed`]).
    /// Solo para direcciones comprobadas (una conexión TCP): la dirección
    /// de origen de un datagrama UDP no cuesta nada falsificar, y contar sus
    /// fallos dejaría bloquear la dirección de otro.
    pub fn failed(&self, ip: IpAddr, now: Instant) -> Option<Duration> {
        lock(self.addresses.as_ref()?).failed(ip, now)
    }

    /// Si `ip` no puede crear más cuentas por ahora, cuánto le falta.
    pub fn registrations_blocked(&self, ip: IpAddr, now: Instant) -> Option<Duration> {
        lock(self.registrations.as_ref()?).blocked(&ip, now)
    }

    /// Anota un `:register` desde `ip` (ver [`Blocklist::failed`]: la misma
    /// cuenta y el mismo calendario de bloqueos). Solo para direcciones
    /// comprobadas, como [`Guards::failed`].
    pub fn registered(&self, ip: IpAddr, now: Instant) -> Option<Duration> {
        lock(self.registrations.as_ref()?).failed(ip, now)
    }

    /// Si la cuenta `key` (ver [`crate::curso::protocolo::name_key`]) está
    /// bloqueada, cuánto le falta.
    pub fn account_blocked(&self, key: &str, now: Instant) -> Option<Duration> {
        lock(self.accounts.as_ref()?).blocked(&key.to_string(), now)
    }

    /// Anota una contraseña fallida para la cuenta `key`, venga de donde
    /// venga (ver [`Blocklist::failed`]).
    pub fn account_failed(&self, key: &str, now: Instant) -> Option<Duration> {
        lock(self.accounts.as_ref()?).failed(key.to_string(), now)
    }
}

/// El ritmo propio de quien todavía no entró: un balde con su tasa.
struct RatedPacer {
    limiter: LineLimiter,
    rate: LineRate,
}

impl Pacer for RatedPacer {
    fn pace(&mut self, now: Instant) -> Verdict {
        self.limiter.pace(self.rate, now)
    }

    fn check(&mut self, now: Instant) -> Verdict {
        self.limiter.check(self.rate, now)
    }

    fn take_dropped(&mut self, now: Instant) -> Option<u32> {
        self.limiter.take_dropped(self.rate, now)
    }

    fn is_calm(&self, now: Instant) -> bool {
        self.limiter.is_calm(self.rate, now)
    }
}

/// El lugar de una conexión TCP del programa completo (ver [`Place`]):
/// su anotación en el registro, si hay topes; su balde de líneas hasta que
/// entra (después, el del usuario, compartido con su lado UDP); y sus
/// contraseñas fallidas.
struct ConnectionLimits {
    registered: Option<Registered>,
    peer: SocketAddr,
    /// `None`: sin límite de líneas.
    rate: Option<LineRate>,
    users: Arc<Mutex<Buckets>>,
    /// El usuario, desde que entró.
    name: Option<String>,
    /// Su balde propio, mientras no entró.
    own: Option<LineLimiter>,
    failures: u32,
    /// Fallos antes de cerrar; 0 = sin límite.
    max_failures: u32,
}

impl Place for ConnectionLimits {
    fn signed_in(&mut self, name: &str) {
        self.name = Some(name.to_string());
        if let Some(registered) = &mut self.registered {
            registered.signed_in(name);
        }
    }

    /// Frenar al que envía de más, sin perder nada: el hilo espera sin
    /// leer, el búfer del kernel se llena y TCP detiene al emisor (RFC 1459
    /// §8.10). El aviso, una vez por ráfaga.
    fn before_line(&mut self, now: Instant) -> Option<Pace> {
        let rate = self.rate?;
        let verdict = match &self.name {
            Some(name) => {
                let mut users = lock(&self.users);
                users.limiter(name, rate, now)?.pace(rate, now)
            }
            None => self.own.as_mut()?.pace(rate, now),
        };
        let Verdict::Delay { wait, warn } = verdict else {
            return None;
        };
        if !warn {
            return Some(Pace { wait, first: None });
        }
        let per_sec = rate.per_sec;
        let who = match &self.name {
            Some(name) => name.clone(),
            None => format!("{} (TCP)", self.peer),
        };
        let line =
            format!("{who} sends faster than {per_sec} lines per second; its lines are delayed");
        let first = Some((Notice::Paced(per_sec).event(), line));
        Some(Pace { wait, first })
    }

    /// Una contraseña mala o una dirección bloqueada cuenta; tras
    /// `--max-signin-failures` en esta conexión, se cierra.
    fn failed_sign_in(&mut self, problem: &Problem) -> Option<(Event, String)> {
        let blocked = |text: &str| {
            matches!(
                Notice::parse(text),
                Some(Notice::SigninBlocked(_) | Notice::AccountBlocked(_))
            )
        };
        let guessing = match problem {
            Problem::BadCredentials => true,
            Problem::Refused(text) => blocked(text),
            _ => false,
        };
        self.failures += u32::from(guessing);
        let max = self.max_failures;
        if !guessing || max == 0 || self.failures < max {
            return None;
        }
        let line = format!(
            "{} (TCP) failed {max} sign-ins; connection closed",
            self.peer
        );
        Some((Notice::TooManyFailures.event(), line))
    }
}

impl Guard for Guards {
    /// Cada conexión tiene su lugar (`ConnectionLimits`): su ritmo, sus fallos
    /// y, con [`Admission`], su anotación en el registro.
    fn admit(&self, peer: SocketAddr, output: &Arc<dyn Output>) -> Result<Box<dyn Place>, Refusal> {
        let registered = match &self.admission {
            Some(admission) => {
                let connections = &admission.connections;
                let (max, per_ip) = (admission.max, admission.max_per_ip);
                let id = connections.try_add(Some(output), peer, max, per_ip)?;
                let connections = Arc::clone(connections);
                Some(Registered { connections, id })
            }
            None => None,
        };
        let now = Instant::now();
        Ok(Box::new(ConnectionLimits {
            registered,
            peer,
            rate: self.rate,
            users: Arc::clone(&self.users),
            name: None,
            own: self.rate.map(|rate| LineLimiter::new(rate, now)),
            failures: 0,
            max_failures: self.max_failures,
        }))
    }

    /// Sin lo que no se ve: un mensaje no puede empezar un aviso falso en
    /// otra línea ni dar vuelta su texto (`extra/invisible.rs`).
    fn render(&self, text: &str) -> String {
        crate::extra::invisible::render_text(text)
    }

    /// Con plazo para iniciar sesión, la primera línea lo dice.
    fn prompt(&self) -> Event {
        match self.admission.as_ref().and_then(|a| a.signin_timeout) {
            Some(deadline) => Notice::PromptWithin(deadline.as_secs()).event(),
            None => Event::Prompt,
        }
    }

    fn user_left(&self, name: &str, now: Instant) -> Option<String> {
        let dropped = self.forget_calm(name, now)?;
        let per_sec = self.lines_per_sec().unwrap_or(0);
        Some(format!(
            "{name}: {dropped} UDP lines dropped (over {per_sec} lines per second)"
        ))
    }

    /// Una dirección bloqueada no entra; un `:register` desde una dirección
    /// que creó demasiadas cuentas, tampoco, y uno desde una dirección
    /// probada cuenta para ese tope (se anote o no la cuenta); un `:login`
    /// a una cuenta bloqueada tampoco entra. Nada de esto calcula un hash.
    fn before_sign_in(&self, attempt: &Attempt<'_>, now: Instant) -> Result<Vec<String>, Problem> {
        // Como un error de forma: antes de todo, sin contar para ningún
        // límite.
        if attempt.register && reads_as_protocol(attempt.name) {
            return Err(Notice::ReservedName(attempt.name.to_string()).problem());
        }
        let ip = attempt.ip;
        if let Some(left) = self.blocked(ip, now) {
            return Err(Notice::SigninBlocked(whole_seconds(left)).problem());
        }
        let mut console = Vec::new();
        if attempt.register {
            if let Some(left) = self.registrations_blocked(ip, now) {
                return Err(Notice::TooManyAccounts(whole_seconds(left)).problem());
            }
            if attempt.verified
                && let Some(block) = self.registered(ip, now)
            {
                console.push(format!(
                    "{ip} cannot create accounts for {} s after too many registrations",
                    block.as_secs()
                ));
            }
        } else if let Some(left) = self.account_blocked(&name_key(attempt.name), now) {
            return Err(Notice::AccountBlocked(whole_seconds(left)).problem());
        }
        // Lo último: un intento rechazado antes no reserva nada.
        if attempt.register && !self.names.reserve(attempt.name) {
            return Err(Notice::NameTooSimilar(attempt.name.to_string()).problem());
        }
        Ok(console)
    }

    /// Cada contraseña mala cuenta para el bloqueo de la cuenta (venga de
    /// donde venga) y, si la dirección está probada, para el de la
    /// dirección: la de un datagrama cualquiera la escribe el emisor, y
    /// contarla dejaría bloquear la dirección de otro.
    fn after_sign_in(
        &self,
        attempt: &Attempt<'_>,
        outcome: Result<(), &Problem>,
        now: Instant,
    ) -> Vec<String> {
        if attempt.register && outcome.is_err() {
            self.names.release(attempt.name);
        }
        let mut console = Vec::new();
        if outcome != Err(&Problem::BadCredentials) {
            return console;
        }
        if !attempt.register
            && let Some(block) = self.account_failed(&name_key(attempt.name), now)
        {
            console.push(format!(
                "the account {} is locked for {} s after too many failed sign-ins",
                attempt.name,
                block.as_secs()
            ));
        }
        if attempt.verified
            && let Some(block) = self.failed(attempt.ip, now)
        {
            console.push(format!(
                "{} is blocked for {} s after too many failed sign-ins",
                attempt.ip,
                block.as_secs()
            ));
        }
        console
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(start: Instant, millis: u64) -> Instant {
        start + Duration::from_millis(millis)
    }

    #[test]
    fn a_burst_passes_then_datagrams_are_dropped_with_one_warning() {
        let rate = LineRate::new(10).expect("rate");
        assert_eq!(rate.burst, 30);
        let t0 = Instant::now();
        let mut limiter = LineLimiter::new(rate, t0);
        for _ in 0..30 {
            assert_eq!(limiter.check(rate, t0), Verdict::Pass);
        }
        assert_eq!(limiter.check(rate, t0), Verdict::Drop { warn: true });
        assert_eq!(limiter.check(rate, t0), Verdict::Drop { warn: false });
        // Una décima de segundo repone una ficha a 10 líneas/s.
        assert_eq!(limiter.check(rate, at(t0, 100)), Verdict::Pass);
        assert_eq!(
            limiter.check(rate, at(t0, 100)),
            Verdict::Drop { warn: false }
        );
        // La ráfaga no terminó: todavía no hay informe.
        assert_eq!(limiter.take_dropped(rate, at(t0, 200)), None);
        // Con el balde lleno otra vez, sí: 3 descartados; y se avisa de nuevo.
        let calm = at(t0, 3_200);
        assert_eq!(limiter.take_dropped(rate, calm), Some(3));
        assert_eq!(limiter.take_dropped(rate, calm), None);
        for _ in 0..30 {
            assert_eq!(limiter.check(rate, calm), Verdict::Pass);
        }
        assert_eq!(limiter.check(rate, calm), Verdict::Drop { warn: true });
    }

    #[test]
    fn tcp_lines_over_the_burst_wait_for_their_token_and_none_is_lost() {
        let rate = LineRate::new(10).expect("rate");
        let t0 = Instant::now();
        let mut limiter = LineLimiter::new(rate, t0);
        for _ in 0..30 {
            assert_eq!(limiter.pace(rate, t0), Verdict::Pass);
        }
        // La 31.ª espera una ficha entera (100 ms), con un aviso.
        let Verdict::Delay { wait, warn: true } = limiter.pace(rate, t0) else {
            panic!("debía esperar con aviso");
        };
        assert_eq!(wait, Duration::from_millis(100));
        // Quien espera lo que se le dijo y envía otra, espera otra ficha,
        // sin aviso: 10 líneas por segundo exactas, sin descartar ninguna.
        let mut now = t0 + wait;
        for _ in 0..100 {
            let Verdict::Delay { wait, warn: false } = limiter.pace(rate, now) else {
                panic!("debía esperar, sin otro aviso");
            };
            assert!((wait.as_secs_f64() - 0.1).abs() < 1e-6, "{wait:?}");
            now += wait;
        }
        // Tras una pausa que llena el balde, la ráfaga siguiente pasa y un
        // nuevo exceso vuelve a avisar.
        let later = now + Duration::from_secs(4);
        for _ in 0..30 {
            assert_eq!(limiter.pace(rate, later), Verdict::Pass);
        }
        assert!(matches!(
            limiter.pace(rate, later),
            Verdict::Delay { warn: true, .. }
        ));
    }

    #[test]
    fn the_average_rate_is_kept_forever() {
        let rate = LineRate::new(10).expect("rate");
        let t0 = Instant::now();
        let mut limiter = LineLimiter::new(rate, t0);
        // Una línea cada 100 ms, durante 100 s: nunca se descarta ninguna.
        for i in 0..1000 {
            assert_eq!(limiter.check(rate, at(t0, i * 100)), Verdict::Pass);
        }
    }

    #[test]
    fn zero_turns_the_line_limit_off() {
        assert_eq!(LineRate::new(0), None);
        let guards = Guards::new(Limits::OFF);
        let now = Instant::now();
        for _ in 0..10_000 {
            assert_eq!(guards.pace_line("alice", now), Verdict::Pass);
            assert_eq!(guards.datagram_from("alice", now), Verdict::Pass);
        }
        let ip = IpAddr::from([127, 0, 0, 1]);
        for _ in 0..100 {
            assert_eq!(guards.failed(ip, now), None);
            assert_eq!(guards.registered(ip, now), None);
        }
        assert_eq!(guards.blocked(ip, now), None);
        assert_eq!(guards.registrations_blocked(ip, now), None);
    }

    #[test]
    fn registrations_and_failed_passwords_are_counted_apart() {
        let guards = Guards::new(Limits {
            max_signin_failures_per_ip: 2,
            max_registrations_per_ip: 3,
            ..Limits::OFF
        });
        let (ip, other) = (IpAddr::from([10, 0, 0, 1]), IpAddr::from([10, 0, 0, 2]));
        let t0 = Instant::now();
        assert_eq!(guards.registered(ip, t0), None);
        assert_eq!(guards.registered(ip, t0), None);
        assert_eq!(guards.failed(ip, t0), None);
        assert_eq!(guards.blocked(ip, t0), None, "un registro no es un fallo");
        assert_eq!(guards.registered(ip, t0), Some(FIRST_BLOCK));
        assert_eq!(guards.registrations_blocked(ip, t0), Some(FIRST_BLOCK));
        assert_eq!(guards.blocked(ip, t0), None, "puede entrar a sus cuentas");
        assert_eq!(guards.registrations_blocked(other, t0), None);
        let later = t0 + FIRST_BLOCK;
        assert_eq!(guards.registrations_blocked(ip, later), None);
    }

    #[test]
    fn the_limit_is_per_user_and_shared_by_tcp_and_udp() {
        let guards = Guards::new(Limits {
            lines_per_sec: 1,
            ..Limits::OFF
        });
        let now = Instant::now();
        for _ in 0..3 {
            assert_eq!(guards.pace_line("alice", now), Verdict::Pass);
        }
        // Su balde está vacío también para sus datagramas.
        assert_eq!(
            guards.datagram_from("alice", now),
            Verdict::Drop { warn: true }
        );
        assert_eq!(guards.datagram_from("bob", now), Verdict::Pass);
        assert_eq!(guards.finished_floods(now), []);
        // Un balde con deuda no se olvida al salir; uno lleno sí.
        assert_eq!(guards.forget_calm("alice", now), None);
        assert_eq!(
            guards.datagram_from("alice", now),
            Verdict::Drop { warn: false }
        );
        let calm = at(now, 3_000);
        assert_eq!(guards.finished_floods(calm), [("alice".to_string(), 2)]);
        assert_eq!(guards.finished_floods(calm), []);
        guards.forget_calm("bob", calm);
        assert_eq!(lock(&guards.users).by_name.len(), 1);
    }

    #[test]
    fn blocks_grow_and_expire() {
        let ip = IpAddr::from([10, 0, 0, 7]);
        let other = IpAddr::from([10, 0, 0, 8]);
        let t0 = Instant::now();
        let mut list = Blocklist::new(3);
        assert_eq!(list.failed(ip, t0), None);
        assert_eq!(list.failed(ip, t0), None);
        assert_eq!(list.failed(ip, t0), Some(FIRST_BLOCK));
        assert_eq!(list.blocked(&ip, t0), Some(FIRST_BLOCK));
        assert_eq!(list.blocked(&other, t0), None);
        let after = t0 + FIRST_BLOCK;
        assert_eq!(list.blocked(&ip, after), None);
        // El segundo bloqueo dura el doble.
        list.failed(ip, after);
        list.failed(ip, after);
        assert_eq!(list.failed(ip, after), Some(FIRST_BLOCK * 2));
        // Mucho después, los bloqueos anteriores se olvidan.
        let much_later = after + FORGET_AFTER * 2;
        list.failed(ip, much_later);
        list.failed(ip, much_later);
        assert_eq!(list.failed(ip, much_later), Some(FIRST_BLOCK));
    }

    #[test]
    fn the_longest_block_is_capped() {
        let ip = IpAddr::from([10, 0, 0, 9]);
        let mut now = Instant::now();
        let mut list = Blocklist::new(1);
        let mut last = Duration::ZERO;
        for _ in 0..40 {
            last = list.failed(ip, now).expect("bloqueo");
            now += last;
        }
        assert_eq!(last, MAX_BLOCK);
    }

    #[test]
    fn old_addresses_are_pruned() {
        let t0 = Instant::now();
        let mut list = Blocklist::new(5);
        for i in 0..PRUNE_MIN as u32 {
            list.failed(IpAddr::from(i.to_be_bytes()), t0);
        }
        let later = t0 + FORGET_AFTER;
        list.failed(IpAddr::from([1, 2, 3, 4]), later);
        assert_eq!(list.strikes.len(), 1);
    }
}
