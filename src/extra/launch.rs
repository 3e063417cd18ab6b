//! El arranque del programa completo: elige entre el eco y el chat, enchufa
//! las respuestas de `extra` en el servidor del curso ([`super::plugins`]),
//! instala el apagado ordenado con SIGINT y SIGTERM ([`super::shutdown`]) y
//! anota el laboratorio de UDP. No es dueño del servidor: lo arma con
//! [`crate::curso::servidor`], en el orden que ese módulo pide.

use super::config::Config;
use crate::curso::servidor::{self, ServerError};
use crate::extra::logger::stdout_console;
use std::sync::Arc;

/// Arranca el servidor con `config`, imprime `Listening on HOST:PUERTO`
/// como primera línea y atiende para siempre. Errores: [`ServerError`].
pub fn run(config: &Config) -> Result<(), ServerError> {
    let bind_error = |error| ServerError::Bind {
        addr: config.addr.clone(),
        error,
    };
    if config.echo {
        let admission = config.echo_admission();
        let ((console, _), idle) = (stdout_console()?, config.echo_idle());
        let serve = super::echo_limits::serve_with(idle);
        return crate::curso::echo::run(&config.addr, console, &admission, serve)
            .map_err(bind_error);
    }
    let (console, logger) = stdout_console()?;
    let (server, connections) = super::server(config, console)?;
    let addr = server.local_addr().map_err(bind_error)?;
    super::shutdown::on_signal_shut_down(Arc::clone(server.chat()), connections, logger)
        .map_err(ServerError::Thread)?;
    servidor::announce(&addr.to_string())?;
    let impairment = config.impairment();
    if !impairment.is_off() {
        server.chat().log(&format!(
            "UDP lab: loss {}, duplication {}, reordering {}, seed {}",
            impairment.loss, impairment.dup, impairment.reorder, config.udp_seed
        ));
    }
    servidor::start(&server, &config.data_dir);
    super::stats::start_thread(Arc::clone(server.chat()), config.stats_secs)
        .map_err(ServerError::Thread)?;
    server.serve().map_err(|error| ServerError::Bind {
        addr: addr.to_string(),
        error,
    })
}
