//! `cliente-gui`: abre la ventana del chat. Toda la lógica está en la
//! biblioteca del crate (`app`, `model`, `net`).

use clap::Parser;
use cliente_gui::app::App;
use std::process::ExitCode;

/// El cliente gráfico del chat.
#[derive(Parser)]
#[command(
    name = "cliente-gui",
    about = "Cliente gráfico del chat: iniciar sesión, la sala, mensajes privados por TCP o\n\
             UDP, los usuarios conectados y las transferencias.",
    disable_help_flag = true
)]
struct Args {
    /// Servidor al que conectarse (se puede cambiar en la ventana)
    #[arg(long, value_name = "HOST:PUERTO", default_value = chat::protocolo::DEFAULT_ADDR)]
    addr: String,

    /// Muestra esta ayuda
    #[arg(short, long, action = clap::ArgAction::Help)]
    help: Option<bool>,
}

fn main() -> ExitCode {
    let args = match Args::try_parse() {
        Ok(args) => args,
        Err(error) => return chat::cli::exit("cliente-gui", &error),
    };
    let options = eframe::NativeOptions {
        viewport: eframe::egui::ViewportBuilder::default()
            .with_inner_size([860.0, 600.0])
            .with_min_inner_size([640.0, 480.0])
            .with_title(format!("Chat: {}", args.addr)),
        ..Default::default()
    };
    let addr = args.addr.clone();
    let started = eframe::run_native(
        "cliente-gui",
        options,
        Box::new(move |creation| {
            let ctx = creation.egui_ctx.clone();
            Ok(Box::new(App::new(
                &addr,
                std::sync::Arc::new(move || ctx.request_repaint()),
            )))
        }),
    );
    match started {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("cliente-gui: no se pudo abrir la ventana: {error}");
            ExitCode::FAILURE
        }
    }
}
