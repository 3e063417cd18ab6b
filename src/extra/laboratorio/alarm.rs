//! El despertador de los temporizadores del modo confiable ([`Alarm`]):
//! un `Mutex` con la hora a la que piensa despertar el hilo que revisa los
//! plazos, y un `Condvar` para despertarlo antes. Lo usan el servidor (el
//! hilo `udp timers`, para todos sus pares) y el cliente con `--reliable`.
//! No sabe de datagramas ni de emisores: solo de horas.
//!
//! Por qué no un plazo de lectura en el socket (`SO_RCVTIMEO`): Linux lo
//! redondea a los tics del kernel, y con `CONFIG_HZ=250` un plazo de 2 ms
//! espera 8 ms. La espera de un `Condvar` usa un `futex` con un
//! temporizador de alta resolución.

use crate::curso::sync::{lock, wait_timeout_while};
use crate::extra::laboratorio::reliable::GRANULARITY;
use std::sync::{Condvar, Mutex};
use std::time::Instant;

/// El despertador de un hilo de temporizadores. El hilo duerme hasta el
/// plazo más cercano de algún emisor; quien arma uno antes (una línea
/// nueva, cuya sonda vence en milisegundos, o un acuse que deja un hueco
/// por perdido) lo despierta. Con un tic fijo, cada recuperación esperaría
/// al tic siguiente: con 20 ms, más que la sonda misma.
#[derive(Default)]
pub struct Alarm {
    /// La hora a la que el hilo piensa despertar; `None` mientras revisa
    /// los pares (lo que se arme entonces queda anotado para la espera
    /// siguiente). El candado se toma lo que dura anotar o mirar la hora:
    /// sin él, un plazo armado justo cuando el hilo se duerme se perdería.
    at: Mutex<Option<Instant>>,
    rang: Condvar,
}

impl Alarm {
    /// Un plazo nuevo, a la hora `at`: si es antes de lo que el hilo
    /// espera, lo despierta.
    pub fn arm(&self, at: Instant) {
        let mut planned = lock(&self.at);
        if planned.is_none_or(|planned| at < planned) {
            *planned = Some(at);
            self.rang.notify_one();
        }
    }

    /// Lo armado: la hora a la que el hilo piensa despertar, o el plazo más
    /// cercano que se armó mientras trabajaba.
    pub fn planned(&self) -> Option<Instant> {
        *lock(&self.at)
    }

    /// Espera hasta `until`, o hasta un plazo que alguien arme antes, pero
    /// al menos [`GRANULARITY`]: un plazo ya vencido que nadie atiende no
    /// hace girar al hilo sin parar.
    pub fn wait_until(&self, until: Instant) {
        let not_before = Instant::now() + GRANULARITY;
        let mut planned = lock(&self.at);
        loop {
            let at = planned.map_or(until, |p| p.min(until)).max(not_before);
            *planned = Some(at);
            let now = Instant::now();
            if now >= at {
                break;
            }
            (planned, _) = wait_timeout_while(&self.rang, planned, at - now, |p| *p == Some(at));
        }
        *planned = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Duration;

    /// Quien espera hasta dentro de un minuto despierta en cuanto alguien
    /// arma un plazo más cercano, lo arme antes o después de que empiece
    /// a esperar.
    #[test]
    fn the_alarm_wakes_the_timer_thread_for_a_nearer_deadline() {
        for arm_first in [true, false] {
            let alarm = Arc::new(Alarm::default());
            if arm_first {
                alarm.arm(Instant::now());
            }
            let waiter = Arc::clone(&alarm);
            let started = Instant::now();
            let thread = std::thread::spawn(move || {
                waiter.wait_until(Instant::now() + Duration::from_secs(60));
            });
            if !arm_first {
                alarm.arm(Instant::now() + Duration::from_millis(5));
            }
            thread.join().expect("el hilo que espera");
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "esperó el minuto entero"
            );
        }
    }
}
