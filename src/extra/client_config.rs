//! La línea de comandos del cliente: cada opción es un campo de [`Config`],
//! y el comentario de cada campo es su línea de `cliente --help` (lo arma
//! `clap`, como la del servidor en `config`). De ella salen lo que el
//! cliente del curso necesita ([`Config::settings`]) y lo que el programa
//! completo le enchufa ([`Config::plugins`]: el laboratorio de pérdidas y
//! la entrega confiable). No abre sockets.

use crate::curso::cliente::{Mode, Settings};
use crate::curso::protocolo;
use crate::extra::cliente::seams::{DEFAULT_KEEPALIVE, Link, PlainLink, Plugins, ReliableMode};
use crate::extra::laboratorio::lossy::{Impairment, LossyLink, parse_probability};
use crate::extra::laboratorio::reliable::MAX_RETRIES;
use crate::extra::laboratorio::reliable_client::ReliableClient;
use clap::Parser;
use std::time::Duration;

/// La configuración del cliente, tal como la lee `cliente --help`.
#[derive(Parser, Debug, Clone, PartialEq)]
#[command(
    name = "cliente",
    about = "Cliente de terminal del chat. Lee líneas de la entrada estándar y las envía;\n\
             muestra lo que llega del servidor. En una terminal, con un editor de líneas\n\
             (flechas, historial) y lo que llega impreso encima de lo que se escribe; en una\n\
             tubería, línea por línea, para guiones. El fin de la entrada (Ctrl-D) o Ctrl-C\n\
             equivalen a :q.",
    override_usage = "cliente [opciones]",
    help_template = "{about}\n\nUso: {usage}\n\nOpciones:\n{options}\n{after-help}",
    after_help = concat!(
        "Dentro del chat: :register <nombre> <clave>, :login <nombre> <clave>, :help.\n",
        "En modo TCP, :udp y :tcp eligen por dónde viajan las líneas siguientes.\n",
        "Con la entrada en una terminal, :register <nombre> o :login <nombre> sin clave\n",
        "la piden sin mostrarla.\n\n",
        "Códigos de salida: 0 saliste (:q o fin de la entrada); 1 se perdió la conexión\n",
        "(también una cola de salida llena); 2 opciones inválidas; 3 no hay servidor\n",
        "(TCP rechazado o UDP sin respuesta); 4 el servidor se apagó; 5 no iniciaste\n",
        "sesión a tiempo; 6 servidor lleno o demasiadas conexiones desde tu dirección;\n",
        "7 demasiadas contraseñas fallidas; 8 entraste con tu cuenta desde otra dirección\n",
        "(solo UDP)."
    ),
    disable_help_flag = true,
    max_term_width = 100
)]
pub struct Config {
    /// Servidor al que conectarse
    #[arg(long, value_name = "HOST:PUERTO", default_value = protocolo::DEFAULT_ADDR,
          value_parser = protocolo::host_and_port)]
    pub addr: String,

    /// Usar solo UDP (cada datagrama lleva el token de la sesión)
    #[arg(long, conflicts_with = "echo")]
    pub udp: bool,

    /// Enviar MENSAJE al servidor de eco, mostrar la respuesta y salir
    #[arg(long, value_name = "MENSAJE")]
    pub echo: Option<String>,

    /// Con --udp: segundos sin enviar nada tras los que se envía :ping,
    /// para que el servidor no cierre la sesión (su --udp-idle-secs es 300)
    #[arg(long, value_name = "S", default_value_t = DEFAULT_KEEPALIVE.as_secs_f64(),
          value_parser = positive_seconds)]
    pub udp_keepalive_secs: f64,

    /// Con --udp: entrega confiable hecha a mano (números de secuencia,
    /// acuses y retransmisiones, ver src/extra/laboratorio/reliable.rs):
    /// cada línea llega una vez y en orden aunque se pierdan datagramas
    #[arg(long, requires = "udp")]
    pub reliable: bool,

    /// Con --reliable: retransmisiones seguidas sin acuse tras las que se
    /// da al servidor por ido (el plazo se duplica en cada una)
    #[arg(long, value_name = "N", default_value_t = MAX_RETRIES,
          value_parser = clap::value_parser!(u32).range(1..=30))]
    pub retries: u32,

    /// Laboratorio de UDP: probabilidad (0 a 1) de perder cada datagrama que
    /// el cliente envía o recibe
    #[arg(long, value_name = "P", default_value_t = 0.0, value_parser = parse_probability)]
    pub loss: f64,

    /// Laboratorio de UDP: probabilidad de duplicar cada datagrama
    #[arg(long, value_name = "P", default_value_t = 0.0, value_parser = parse_probability)]
    pub dup: f64,

    /// Laboratorio de UDP: probabilidad de que un datagrama llegue después
    /// del siguiente
    #[arg(long, value_name = "P", default_value_t = 0.0, value_parser = parse_probability)]
    pub reorder: f64,

    /// Laboratorio de UDP: semilla del generador, para repetir una corrida
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub seed: u64,

    /// Muestra esta ayuda
    #[arg(short, long, action = clap::ArgAction::Help)]
    help: Option<bool>,
}

impl Config {
    /// Lee los argumentos (sin el nombre del programa). Error: el de `clap`
    /// (también `--help`, que sale con código 0).
    pub fn from_args(args: impl IntoIterator<Item = String>) -> Result<Config, clap::Error> {
        Config::try_parse_from(std::iter::once("cliente".to_string()).chain(args))
    }

    /// Cada cuánto, en silencio, el modo `--udp` envía `:ping`.
    pub fn keepalive(&self) -> Duration {
        Duration::from_secs_f64(self.udp_keepalive_secs)
    }

    /// Lo que el cliente del curso necesita: adónde y cómo.
    pub fn settings(&self) -> Settings {
        Settings {
            addr: self.addr.clone(),
            mode: self.mode(),
        }
    }

    /// Lo que se le enchufa al cliente: el laboratorio, si alguna
    /// probabilidad no es 0, la entrega confiable, con `--reliable`, y
    /// cada cuánto el `:ping` de mantenimiento.
    pub fn plugins(&self) -> Plugins {
        let impairment = Impairment {
            loss: self.loss,
            dup: self.dup,
            reorder: self.reorder,
        };
        let link: Box<dyn Link> = if impairment.is_off() {
            Box::new(PlainLink)
        } else {
            Box::new(LossyLink::new(impairment, self.seed))
        };
        let reliable = self
            .reliable_retries()
            .map(|retries| Box::new(ReliableClient::new(retries)) as Box<dyn ReliableMode>);
        Plugins {
            link,
            reliable,
            keepalive: self.keepalive(),
        }
    }

    /// Con `--reliable`, los reintentos (`--retries`); si no, `None`.
    pub fn reliable_retries(&self) -> Option<u32> {
        self.reliable.then_some(self.retries)
    }

    /// El modo que eligen `--udp` y `--echo`.
    pub fn mode(&self) -> Mode {
        match (&self.echo, self.udp) {
            (Some(message), _) => Mode::Echo(message.clone()),
            (None, true) => Mode::Udp,
            (None, false) => Mode::Tcp,
        }
    }
}

/// `--udp-keepalive-secs`: un número de segundos mayor que 0.
fn positive_seconds(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(seconds) if seconds > 0.0 && seconds.is_finite() => Ok(seconds),
        _ => Err(format!("{text} no es un número de segundos mayor que 0")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags() {
        let parse = |l: &[&str]| Config::from_args(l.iter().map(|s| s.to_string()));
        let config = parse(&[]).expect("válido");
        assert_eq!(
            (config.addr.as_str(), config.mode()),
            ("127.0.0.1:5500", Mode::Tcp)
        );
        let config = parse(&["--addr", "[::1]:7", "--udp"]).expect("válido");
        assert_eq!(
            (config.addr.as_str(), config.mode()),
            ("[::1]:7", Mode::Udp)
        );
        let config = parse(&["--echo", "Hola Server!"]).expect("válido");
        assert_eq!(config.mode(), Mode::Echo("Hola Server!".into()));
        assert!(parse(&["--help"]).is_err());
        assert!(parse(&["--addr"]).is_err());
        assert!(parse(&["--echo"]).is_err());
        assert!(parse(&["x"]).is_err());
        assert!(parse(&["--udp-keepalive-secs", "0"]).is_err());
        assert!(
            parse(&["--reliable"]).is_err(),
            "--reliable es solo de --udp"
        );
        let config = parse(&["--udp", "--reliable", "--retries", "3"]).expect("válido");
        assert_eq!(config.reliable_retries(), Some(3));
        assert!(config.plugins().reliable.is_some());
        let config = parse(&["--udp"]).expect("válido");
        assert_eq!(config.reliable_retries(), None);
        assert!(config.plugins().reliable.is_none());
        assert_eq!(config.plugins().keepalive, DEFAULT_KEEPALIVE);
        assert!(parse(&["--udp", "--reliable", "--retries", "0"]).is_err());
        let config = parse(&["--udp", "--udp-keepalive-secs", "0.5"]).expect("válido");
        assert_eq!(config.keepalive(), Duration::from_millis(500));
    }

    #[test]
    fn every_ending_has_its_own_exit_code_and_the_help_lists_it() {
        let help = Config::from_args(["--help".to_string()])
            .expect_err("--help")
            .to_string();
        let mut codes: Vec<u8> = crate::curso::cliente::ending::ALL
            .iter()
            .map(|e| e.code())
            .collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(
            codes.len(),
            crate::curso::cliente::ending::ALL.len(),
            "códigos repetidos"
        );
        for code in codes {
            let listed = [format!(" {code} "), format!("\n{code} ")];
            assert!(
                listed.iter().any(|text| help.contains(text)),
                "falta {code} en:\n{help}"
            );
        }
    }
}
