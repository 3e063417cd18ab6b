//! La línea de comandos del servidor: cada opción es un campo de [`Config`],
//! y el comentario de cada campo es su línea de `servidor --help` (lo arma
//! `clap`, la biblioteca de línea de comandos que usa medio ecosistema de
//! Rust). Los valores por defecto son las constantes que citan el README y
//! el informe. No abre sockets ni archivos.

use crate::curso::password::HashCost;
use crate::curso::protocolo::DEFAULT_ADDR;
pub use crate::curso::servidor::DEFAULT_DATA_DIR;
use crate::curso::servidor::Settings;

/// Segundos por defecto para iniciar sesión: quien se conecta y no hace
/// nada (o envía de a un byte, *slowloris*) no ocupa un hilo para siempre.
pub const DEFAULT_SIGNIN_TIMEOUT_SECS: u64 = 60;
use crate::curso::udp;
use crate::extra::abuse::{self, Limits};
use crate::extra::laboratorio::lossy::{Impairment, parse_probability};
use crate::extra::rendimiento::flusher::DEFAULT_TOTAL_QUEUE_LIMIT;
use crate::extra::rendimiento::outbox::DEFAULT_QUEUE_LIMIT;
use clap::Parser;
use std::path::PathBuf;
use std::time::Duration;

/// Segundos por defecto que un par del modo confiable puede callar con
/// algo en vuelo: mucho más que cualquier ida y vuelta, y menos que los
/// 300 s tras los que se cierra una sesión UDP callada.
pub const DEFAULT_RELIABLE_TIMEOUT_SECS: u64 = 30;

/// Conexiones TCP simultáneas por defecto: un aula entera con margen, y
/// lejos de los límites del sistema (hilos, descriptores).
pub const DEFAULT_MAX_CLIENTS: usize = 1000;

/// Conexiones TCP simultáneas por defecto desde una misma dirección: un
/// curso entero en una sola máquina (todos en `127.0.0.1`, o detrás de una
/// NAT) con margen, y una décima parte del total, así que quien abre
/// sockets quietos desde una dirección no deja afuera a los demás.
pub const DEFAULT_MAX_CLIENTS_PER_IP: usize = 100;

/// La configuración del servidor, tal como la lee `servidor --help`.
#[derive(Parser, Debug, Clone, PartialEq)]
#[command(
    name = "servidor",
    about = "Servidor de chat con cuentas y un banco: TCP (un hilo por cliente) y UDP\n\
             (un hilo para todos) en la misma dirección y número de puerto.",
    override_usage = "servidor [opciones]",
    help_template = "{about}\n\nUso: {usage}\n\nOpciones:\n{options}\n{after-help}",
    after_help = "La primera línea que imprime es la dirección real: \"Listening on HOST:PUERTO\".\n\
                  Con SIGINT (Ctrl+C) o SIGTERM se apaga en orden: avisa a todos, deja los\n\
                  datos en disco y termina con código 0.",
    disable_help_flag = true,
    allow_negative_numbers = true,
    // Una opción repetida vale lo último que se dijo (un guion que agrega
    // `--hash-cost owasp` a una lista que ya lo tenía).
    args_override_self = true,
    max_term_width = 100
)]
pub struct Config {
    /// Dirección donde escuchar, TCP y UDP (puerto 0 = uno libre; IPv6 como `[::1]:5500`)
    #[arg(long, value_name = "HOST:PUERTO", default_value = DEFAULT_ADDR,
          value_parser = crate::curso::protocolo::host_and_port)]
    pub addr: String,

    /// Directorio de datos: diario.jsonl y usuarios.json; un solo servidor por
    /// directorio (lo protege el candado DIR/.lock)
    #[arg(long, value_name = "DIR", default_value = DEFAULT_DATA_DIR)]
    pub data_dir: PathBuf,

    /// Bytes pendientes por cliente antes de desconectarlo
    #[arg(long, value_name = "N", default_value_t = DEFAULT_QUEUE_LIMIT,
          value_parser = positive::<usize>)]
    pub max_queue_bytes: usize,

    /// Búfer de envío del kernel por cliente TCP (SO_SNDBUF; Linux reserva
    /// el doble): lo que un cliente que no lee retiene en el kernel, además
    /// de su cola (0 = el ajuste automático del kernel, hasta 4 MiB)
    #[arg(long, value_name = "N", default_value_t = crate::extra::send_buffer::DEFAULT_BYTES)]
    pub send_buffer_bytes: usize,

    /// Bytes pendientes entre todos los clientes atascados; al pasarlo se
    /// desconecta primero al que más debe (0 = sin techo)
    #[arg(long, value_name = "N", default_value_t = DEFAULT_TOTAL_QUEUE_LIMIT)]
    pub max_total_queue_bytes: usize,

    /// owasp (Argon2id, 19 MiB, t=2) o minimal (solo para pruebas y benchmarks:
    /// sin seguridad)
    #[arg(long, value_name = "COSTO", default_value = "owasp", value_parser = hash_cost)]
    pub hash_cost: HashCost,

    /// Segundos sin datagramas tras los que se cierra una sesión solo-UDP
    #[arg(long, value_name = "N", default_value_t = udp::DEFAULT_IDLE.as_secs(),
          value_parser = positive::<u64>)]
    pub udp_idle_secs: u64,

    /// Conexiones TCP abiertas a la vez; la siguiente recibe "The server is
    /// full" y se cierra (0 = sin límite)
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_CLIENTS)]
    pub max_clients: usize,

    /// Conexiones TCP abiertas a la vez desde una misma dirección IP; la
    /// siguiente recibe "There are too many connections from your address"
    /// (0 = sin límite)
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_CLIENTS_PER_IP)]
    pub max_clients_per_ip: usize,

    /// Segundos para iniciar sesión; después se avisa y se cierra la conexión
    /// (0 = sin límite)
    #[arg(long, value_name = "N", default_value_t = DEFAULT_SIGNIN_TIMEOUT_SECS)]
    pub signin_timeout_secs: u64,

    /// Segundos sin tráfico tras los que se sondea a un cliente TCP (6 sondas,
    /// una cada N/6 s): uno cuya red desapareció se anuncia como desconectado
    /// a los 2 N s, 2 min por defecto (0 = sin sondas)
    #[arg(long, value_name = "N",
          default_value_t = crate::extra::keepalive::DEFAULT_IDLE.as_secs())]
    pub keepalive_secs: u64,

    /// Líneas por segundo por usuario (TCP y UDP juntos), con ráfagas de 3 s
    /// de líneas; por TCP las de más esperan su turno (no se pierde ninguna),
    /// por UDP se descartan y se cuentan (0 = sin límite)
    #[arg(long, value_name = "N", default_value_t = abuse::DEFAULT_LINES_PER_SEC)]
    pub max_lines_per_sec: u32,

    /// Contraseñas fallidas por conexión (después se cierra) y por cuenta,
    /// vengan de donde vengan (después la cuenta se bloquea 30 s, el doble
    /// cada vez, hasta 15 min) (0 = sin límite)
    #[arg(long, value_name = "N", default_value_t = abuse::DEFAULT_MAX_SIGNIN_FAILURES)]
    pub max_signin_failures: u32,

    /// Contraseñas fallidas desde una dirección IP comprobada (una conexión
    /// TCP, o un datagrama que devolvió su cookie: no una dirección que se
    /// falsifica gratis); después se bloquea como una cuenta (0 = sin límite)
    #[arg(long, value_name = "N",
          default_value_t = abuse::DEFAULT_MAX_SIGNIN_FAILURES_PER_IP)]
    pub max_signin_failures_per_ip: u32,

    /// :register desde una dirección IP comprobada sin una hora de calma;
    /// después la dirección no crea cuentas por 30 s, el doble cada vez
    /// (0 = sin límite)
    #[arg(long, value_name = "N",
          default_value_t = abuse::DEFAULT_MAX_REGISTRATIONS_PER_IP)]
    pub max_registrations_per_ip: u32,

    /// Modo confiable: segundos con algo en vuelo y ningún acuse nuevo tras
    /// los que un par se da por ido; su sesión UDP termina y los demás ven
    /// que se desconectó
    #[arg(long, value_name = "N", default_value_t = DEFAULT_RELIABLE_TIMEOUT_SECS,
          value_parser = positive::<u64>)]
    pub reliable_timeout_secs: u64,

    /// Laboratorio de UDP: probabilidad (0 a 1) de perder cada datagrama
    /// que el servidor recibe o envía
    #[arg(long, value_name = "P", default_value_t = 0.0, value_parser = parse_probability)]
    pub udp_loss: f64,

    /// Laboratorio de UDP: probabilidad de duplicar cada datagrama
    #[arg(long, value_name = "P", default_value_t = 0.0, value_parser = parse_probability)]
    pub udp_dup: f64,

    /// Laboratorio de UDP: probabilidad de que un datagrama llegue después
    /// del siguiente
    #[arg(long, value_name = "P", default_value_t = 0.0, value_parser = parse_probability)]
    pub udp_reorder: f64,

    /// Laboratorio de UDP: semilla del generador, para repetir una corrida
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub udp_seed: u64,

    /// Cada cuántos segundos escribir en la consola una línea con las
    /// estadísticas de :stats (0 = nunca)
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub stats_secs: u64,

    /// En vez del chat, el servidor de eco TCP multihilo (enunciado 002):
    /// responde cada línea con la misma línea
    #[arg(long)]
    pub echo: bool,

    /// Con --echo: segundos sin una línea completa tras los que se cierra
    /// una conexión (quien envía un byte cada tanto no retiene su hilo para
    /// siempre; 0 = sin límite). --max-clients y --max-clients-per-ip
    /// también valen para el eco
    #[arg(long, value_name = "N", default_value_t = 60)]
    pub echo_idle_secs: u64,

    /// Muestra esta ayuda
    #[arg(short, long, action = clap::ArgAction::Help)]
    help: Option<bool>,
}

impl Default for Config {
    fn default() -> Config {
        Config::parse_from(["servidor"])
    }
}

impl Config {
    /// Lee los argumentos (sin el nombre del programa). Error: el de `clap`,
    /// que sabe imprimirse (también `--help`, que sale con código 0); ver
    /// `cli::explain` para decirlo en castellano.
    pub fn from_args(args: impl IntoIterator<Item = String>) -> Result<Config, clap::Error> {
        Config::try_parse_from(std::iter::once("servidor".to_string()).chain(args))
    }

    /// Lo que el servidor del curso necesita para arrancar.
    pub fn settings(&self) -> Settings {
        Settings {
            addr: self.addr.clone(),
            data_dir: self.data_dir.clone(),
            hash_cost: self.hash_cost,
        }
    }

    /// Inactividad tras la que se cierra una sesión solo-UDP.
    pub fn udp_idle(&self) -> Duration {
        Duration::from_secs(self.udp_idle_secs)
    }

    /// El silencio que se tolera a un par del modo confiable.
    pub fn reliable_timeout(&self) -> Duration {
        Duration::from_secs(self.reliable_timeout_secs)
    }

    /// Plazo para iniciar sesión tras conectar; `None` = sin límite.
    pub fn signin_timeout(&self) -> Option<Duration> {
        (self.signin_timeout_secs > 0).then(|| Duration::from_secs(self.signin_timeout_secs))
    }

    /// Los topes de conexiones del servidor de eco (`--max-clients`,
    /// `--max-clients-per-ip`).
    pub fn echo_admission(&self) -> crate::extra::registry::EchoAdmission {
        crate::extra::registry::EchoAdmission {
            connections: Default::default(),
            max: self.max_clients,
            max_per_ip: self.max_clients_per_ip,
        }
    }

    /// Sin una línea completa por este tiempo, el eco cierra la conexión
    /// (`--echo-idle-secs`; `None` = sin plazo).
    pub fn echo_idle(&self) -> Option<Duration> {
        (self.echo_idle_secs > 0).then(|| Duration::from_secs(self.echo_idle_secs))
    }

    /// Espera sin tráfico antes de sondear (ver `keepalive`); `None` = sin sondas.
    pub fn keepalive(&self) -> Option<Duration> {
        (self.keepalive_secs > 0).then(|| Duration::from_secs(self.keepalive_secs))
    }

    /// Lo que el laboratorio de UDP altera (`--udp-loss`, `--udp-dup`,
    /// `--udp-reorder`).
    pub fn impairment(&self) -> Impairment {
        Impairment {
            loss: self.udp_loss,
            dup: self.udp_dup,
            reorder: self.udp_reorder,
        }
    }

    /// Los límites contra el abuso (0 = sin límite).
    pub fn limits(&self) -> Limits {
        Limits {
            lines_per_sec: self.max_lines_per_sec,
            max_signin_failures: self.max_signin_failures,
            max_signin_failures_per_ip: self.max_signin_failures_per_ip,
            max_registrations_per_ip: self.max_registrations_per_ip,
        }
    }
}

/// Un número mayor que cero (`--max-queue-bytes`, `--udp-idle-secs`).
fn positive<N: std::str::FromStr + PartialOrd + Default>(text: &str) -> Result<N, String> {
    match text.parse::<N>() {
        Ok(n) if n > N::default() => Ok(n),
        _ => Err("debe ser un número mayor que 0".into()),
    }
}

fn hash_cost(text: &str) -> Result<HashCost, String> {
    HashCost::parse(text).ok_or_else(|| "debe ser owasp o minimal".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extra::cli::explain;
    use clap::error::ErrorKind;

    fn parse(list: &[&str]) -> Result<Config, clap::Error> {
        Config::from_args(list.iter().map(|s| s.to_string()))
    }

    #[test]
    fn defaults_and_flags() {
        let default = Config::default();
        assert_eq!(default.addr, DEFAULT_ADDR);
        assert_eq!(default.limits(), Limits::default());
        assert_eq!(default.max_clients, DEFAULT_MAX_CLIENTS);
        assert_eq!(default.max_queue_bytes, DEFAULT_QUEUE_LIMIT);
        assert_eq!(default.hash_cost, HashCost::Owasp);
        assert_eq!(default.signin_timeout(), Some(Duration::from_secs(60)));
        assert_eq!(
            default.keepalive(),
            Some(crate::extra::keepalive::DEFAULT_IDLE)
        );
        let config = parse(&[
            "--addr",
            "[::1]:0",
            "--data-dir=/tmp/x",
            "--max-queue-bytes",
            "4096",
            "--hash-cost",
            "minimal",
            "--udp-idle-secs",
            "7",
            "--max-clients",
            "0",
            "--max-clients-per-ip=3",
            "--signin-timeout-secs=0",
            "--keepalive-secs",
            "0",
            "--max-lines-per-sec",
            "0",
            "--max-signin-failures=7",
            "--max-signin-failures-per-ip",
            "9",
            "--max-registrations-per-ip=11",
            "--echo",
        ])
        .expect("válido");
        assert_eq!(config.addr, "[::1]:0");
        assert_eq!(config.data_dir, PathBuf::from("/tmp/x"));
        assert_eq!(config.max_queue_bytes, 4096);
        assert_eq!(config.hash_cost, HashCost::Minimal);
        assert_eq!(config.udp_idle(), Duration::from_secs(7));
        assert!(config.echo);
        assert_eq!(config.max_clients, 0);
        assert_eq!(config.max_clients_per_ip, 3);
        assert_eq!(config.signin_timeout(), None);
        assert_eq!(config.keepalive(), None);
        assert_eq!(
            config.limits(),
            Limits {
                lines_per_sec: 0,
                max_signin_failures: 7,
                max_signin_failures_per_ip: 9,
                max_registrations_per_ip: 11,
            }
        );
        let help = parse(&["--addr", "x:1", "--help"]).expect_err("--help");
        assert_eq!(help.kind(), ErrorKind::DisplayHelp);
    }

    #[test]
    fn bad_flags_are_explained() {
        for bad in [
            &["--addr"][..],
            &["--port", "1"],
            &["--max-queue-bytes", "0"],
            &["--hash-cost", "cheap"],
            &["--udp-idle-secs", "0"],
            &["--max-clients", "-1"],
            &["--max-clients-per-ip", "x"],
            &["--signin-timeout-secs", "pronto"],
            &["--keepalive-secs", "-1"],
            &["--max-lines-per-sec", "5000000000"],
            &["--max-signin-failures", "-3"],
            &["--max-signin-failures-per-ip", "muchas"],
        ] {
            let error = parse(bad).expect_err("debe fallar");
            let text = explain(&error);
            assert!(text.contains(bad[0]), "{bad:?}: {text}");
        }
    }
}
