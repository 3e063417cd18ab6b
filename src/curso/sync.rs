//! Tomar un candado aunque otro hilo haya entrado en pánico con él tomado.
//!
//! `Mutex::lock` devuelve un error si el hilo que tenía el candado entró en
//! pánico (el candado queda "envenenado"): los datos pueden haber quedado a
//! medio cambiar. En este servidor cada sección con candado deja los datos
//! coherentes en cada paso (el libro aplica una operación entera o ninguna),
//! y un cliente cuyo hilo falló no debe dejar afuera a todos los demás: por
//! eso se toma el candado igual, y también se sigue tras esperar en un
//! `Condvar` ([`wait_timeout_while`], la espera del cliente). Es la única
//! regla de candados del proyecto: las esperas del programa completo la
//! siguen igual. No sabe nada del chat.

use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

/// Toma `mutex`, envenenado o no.
pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Espera en `condvar` mientras `condition` sea verdadera, a lo sumo
/// `timeout`, envenenado o no. Devuelve el candado y `true` si se acabó el
/// tiempo con la condición todavía verdadera.
pub fn wait_timeout_while<'a, T>(
    condvar: &Condvar,
    guard: MutexGuard<'a, T>,
    timeout: Duration,
    condition: impl FnMut(&mut T) -> bool,
) -> (MutexGuard<'a, T>, bool) {
    let (guard, result) = condvar
        .wait_timeout_while(guard, timeout, condition)
        .unwrap_or_else(PoisonError::into_inner);
    (guard, result.timed_out())
}
