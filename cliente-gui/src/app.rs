//! La ventana: dibuja el [`Model`] en cada cuadro y le pasa lo que hace el
//! usuario. egui es de "modo inmediato": toda la interfaz es esta función
//! de un struct, llamada de nuevo en cada cuadro, como un `Tkinter` que se
//! redibuja entero. La única regla es no bloquear nunca aquí: la red vive
//! en otros hilos (`net`) y lo suyo llega por un canal.

use crate::model::{EVERYONE, Kind, Model, Request, Transport, View};
use crate::net::{Incoming, Network, Wake};
use chat::protocolo::EMOJIS;
use eframe::egui::{self, Color32, Key, RichText};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

/// Cuánto espera `Salir` la despedida del servidor antes de cerrar igual.
const GOODBYE_WAIT: Duration = Duration::from_secs(3);

/// La aplicación: el estado, la red y lo que llega de ella.
pub struct App {
    /// Lo que se muestra (público para las pruebas).
    pub model: Model,
    network: Network,
    incoming: Receiver<Incoming>,
    /// Desde cuándo se espera la despedida tras `Salir`.
    closing: Option<Instant>,
    /// Se pidió cerrar la ventana (en las pruebas no hay ventana que cerrar).
    pub closed: bool,
    /// La pantalla del cuadro anterior: al cambiar, el foco va a su primer
    /// campo, para que el teclado solo alcance (Tab, Enter).
    shown_view: Option<View>,
}

impl App {
    /// Una ventana nueva con `addr` en el campo del servidor; `wake` la
    /// redibuja desde otro hilo.
    pub fn new(addr: &str, wake: Wake) -> App {
        let (network, incoming) = Network::new(wake);
        App {
            model: Model::new(addr),
            network,
            incoming,
            closing: None,
            closed: false,
            shown_view: None,
        }
    }

    /// Un cuadro: lo que llegó de la red, y luego la pantalla actual.
    pub fn frame(&mut self, ui: &mut egui::Ui) {
        self.receive();
        if self
            .closing
            .is_some_and(|since| since.elapsed() >= GOODBYE_WAIT)
        {
            self.close(ui.ctx());
        }
        let focus = self.shown_view != Some(self.model.view);
        self.shown_view = Some(self.model.view);
        match self.model.view {
            View::SignIn => self.sign_in_view(ui, focus),
            View::Balance => self.balance_view(ui, focus),
            View::Chat => self.chat_view(ui, focus),
        }
        if self.closing.is_some() && !self.model.connected {
            self.close(ui.ctx());
        }
        if self.closing.is_some() {
            // Sin esto, el plazo de la despedida solo se miraría al mover
            // el ratón.
            ui.ctx().request_repaint_after(Duration::from_millis(200));
        }
    }

    fn receive(&mut self) {
        while let Ok(incoming) = self.incoming.try_recv() {
            let requests = match incoming {
                Incoming::Shown(shown) => self.model.on_shown(shown, &now(), Instant::now()),
                Incoming::Ended(why) => {
                    self.model.on_ended(why);
                    Vec::new()
                }
            };
            self.send(requests);
        }
    }

    fn send(&mut self, requests: Vec<Request>) {
        for request in requests {
            self.network.handle(request);
        }
    }

    fn close(&mut self, ctx: &egui::Context) {
        self.closed = true;
        ctx.send_viewport_cmd(egui::ViewportCommand::Close);
    }

    fn quit(&mut self, ctx: &egui::Context) {
        let requests = self.model.quit();
        if requests.is_empty() {
            self.close(ctx);
        } else {
            self.closing = Some(Instant::now());
            self.send(requests);
        }
    }

    fn sign_in_view(&mut self, ui: &mut egui::Ui, focus: bool) {
        egui::CentralPanel::default().show(ui, |ui| {
            ui.heading("Chat: iniciar sesión");
            ui.add_space(8.0);
            let mut enter = false;
            egui::Grid::new("sign-in").num_columns(2).show(ui, |ui| {
                field(ui, "Servidor", &mut self.model.addr, Field::Plain);
                ui.end_row();
                let name = if focus { Field::Focused } else { Field::Plain };
                enter |= field(ui, "Nombre", &mut self.model.name, name);
                ui.end_row();
                enter |= field(ui, "Contraseña", &mut self.model.password, Field::Hidden);
                ui.end_row();
            });
            ui.add_space(8.0);
            let mut requests = Vec::new();
            ui.horizontal(|ui| {
                if ui.button("Login").clicked() || enter {
                    requests = self.model.sign_in(false);
                }
                if ui.button("Register").clicked() {
                    requests = self.model.sign_in(true);
                }
                if ui.button("Salir").clicked() {
                    self.close(ui.ctx());
                }
            });
            if let Some(error) = &self.model.sign_in_error {
                ui.colored_label(Color32::LIGHT_RED, error);
            }
            if let Some(left) = self.model.sign_in_countdown(Instant::now()) {
                ui.label(left);
                // La cuenta baja aunque nadie mueva el ratón.
                ui.ctx().request_repaint_after(Duration::from_millis(500));
            }
            self.send(requests);
        });
    }

    fn balance_view(&mut self, ui: &mut egui::Ui, focus: bool) {
        egui::CentralPanel::default().show(ui, |ui| {
            ui.heading(format!("Cuenta nueva: {}", self.model.name.trim()));
            ui.label("What is your balance?");
            let how = if focus { Field::Focused } else { Field::Plain };
            let enter = field(
                ui,
                "Saldo inicial (dólares)",
                &mut self.model.balance_input,
                how,
            );
            if ui.button("Aceptar").clicked() || enter {
                let requests = self.model.answer_balance();
                self.send(requests);
            }
            if let Some(error) = &self.model.balance_error {
                ui.colored_label(Color32::LIGHT_RED, error);
            }
        });
    }

    fn chat_view(&mut self, ui: &mut egui::Ui, focus: bool) {
        egui::Panel::top("quién").show(ui, |ui| self.header(ui));
        egui::Panel::right("usuarios")
            .min_size(200.0)
            .show(ui, |ui| self.side(ui));
        egui::Panel::bottom("escribir").show(ui, |ui| self.compose(ui, focus));
        egui::CentralPanel::default().show(ui, |ui| self.history(ui));
    }

    /// Quién es este cliente (nombre, IP, puertos, servidor), el saldo y el
    /// fin de la sesión, si terminó.
    fn header(&mut self, ui: &mut egui::Ui) {
        if let Some(me) = &self.model.identity {
            let udp = me
                .udp_port
                .map_or_else(|| "(sin abrir)".to_string(), |port| port.to_string());
            ui.heading(format!("Bienvenido {}", me.name));
            ui.label(format!(
                "IP: {}   Puerto TCP: {}   Puerto UDP: {udp}   Servidor: {}",
                me.me.ip(),
                me.me.port(),
                me.server
            ));
        }
        let balance = self
            .model
            .balance
            .map_or_else(|| "?".to_string(), |dollars| format!("{dollars} dólares"));
        ui.label(RichText::new(format!("Saldo: {balance}")).strong());
        if let Some(why) = &self.model.ended {
            ui.colored_label(Color32::LIGHT_RED, why);
        }
    }

    /// La transferencia (arriba, para que no se mueva cuando la lista
    /// crece) y los conectados: un clic elige el destinatario.
    fn side(&mut self, ui: &mut egui::Ui) {
        let users: Vec<String> = self.model.users.iter().cloned().collect();
        ui.strong("Transferencia");
        egui::ComboBox::from_label("A quién")
            .selected_text(self.model.transfer_to.clone())
            .show_ui(ui, |ui| {
                for user in &users {
                    ui.selectable_value(&mut self.model.transfer_to, user.clone(), user);
                }
            });
        let enter = field(
            ui,
            "Monto (dólares)",
            &mut self.model.transfer_amount,
            Field::Plain,
        );
        if ui.button("Transferir").clicked() || enter {
            let requests = self.model.transfer();
            self.send(requests);
        }
        match &self.model.transfer_result {
            Some(Ok(done)) => ui.colored_label(Color32::LIGHT_GREEN, done),
            Some(Err(error)) => ui.colored_label(Color32::LIGHT_RED, error),
            None => ui.label(""),
        };
        ui.separator();
        ui.strong("Conectados");
        ui.selectable_value(&mut self.model.recipient, EVERYONE.to_string(), EVERYONE);
        for user in &users {
            ui.selectable_value(&mut self.model.recipient, user.clone(), user);
        }
    }

    /// El selector de transporte y de destinatario, el mensaje, los emojis
    /// y `Salir`.
    fn compose(&mut self, ui: &mut egui::Ui, focus: bool) {
        ui.add_space(4.0);
        ui.horizontal(|ui| {
            ui.label("Enviar por:");
            ui.radio_value(&mut self.model.transport, Transport::Tcp, "TCP");
            ui.radio_value(&mut self.model.transport, Transport::Udp, "UDP");
            ui.separator();
            egui::ComboBox::from_label("Para")
                .selected_text(self.model.recipient.clone())
                .show_ui(ui, |ui| {
                    ui.selectable_value(&mut self.model.recipient, EVERYONE.to_string(), EVERYONE);
                    for user in self.model.users.clone() {
                        ui.selectable_value(&mut self.model.recipient, user.clone(), user);
                    }
                });
        });
        let mut requests = Vec::new();
        ui.horizontal(|ui| {
            let label = ui.label("Mensaje");
            let open = self.model.in_room();
            let edit = egui::TextEdit::singleline(&mut self.model.message)
                .desired_width(ui.available_width() - 80.0);
            let response = ui.add_enabled(open, edit).labelled_by(label.id);
            let enter = response.lost_focus() && ui.input(|i| i.key_pressed(Key::Enter));
            if enter || focus {
                response.request_focus();
            }
            if ui.button("Enviar").clicked() || enter {
                requests = self.model.send_message();
            }
        });
        ui.horizontal(|ui| {
            for (index, (word, face)) in EMOJIS.iter().enumerate() {
                let button = ui.button(*face).on_hover_text(format!("Emoji {word}"));
                if button.clicked() {
                    requests = self.model.send_emoji(index);
                }
            }
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                let exit = egui::Button::new(RichText::new("Salir").color(Color32::WHITE))
                    .fill(Color32::from_rgb(170, 30, 30));
                if ui.add(exit).clicked() {
                    self.quit(ui.ctx());
                }
            });
        });
        ui.add_space(4.0);
        self.send(requests);
    }

    fn history(&mut self, ui: &mut egui::Ui) {
        egui::ScrollArea::vertical()
            .stick_to_bottom(true)
            .auto_shrink([false, false])
            .show(ui, |ui| {
                for entry in &self.model.history {
                    let text = RichText::new(format!("{}  {}", entry.time, entry.text));
                    let text = match entry.kind {
                        Kind::Own => text.color(Color32::from_rgb(120, 180, 255)),
                        Kind::OwnPrivate => text.color(Color32::from_rgb(200, 150, 255)),
                        Kind::Public => text,
                        Kind::Private => text.color(Color32::from_rgb(230, 170, 80)).strong(),
                        Kind::Notice => text.color(Color32::GRAY).italics(),
                        Kind::Error => text.color(Color32::LIGHT_RED),
                    };
                    ui.label(text);
                }
            });
    }
}

impl eframe::App for App {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        self.frame(ui);
    }
}

/// Cómo es un campo de texto.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Field {
    Plain,
    /// Toma el foco (el primer campo de una pantalla nueva).
    Focused,
    /// Oculto (una contraseña).
    Hidden,
}

/// Un campo de texto con su etiqueta, atada para los lectores de pantalla
/// (y para las pruebas, que buscan cada campo por su etiqueta). Devuelve
/// `true` si se apretó Enter en él.
///
/// Enter le quita el foco a un campo de egui; aquí lo recupera: si el
/// servidor responde con un error (contraseña equivocada, saldo que no
/// sirve), se corrige y se vuelve a apretar Enter sin el ratón. Si todo
/// sale bien, la pantalla siguiente pone el foco en su primer campo.
fn field(ui: &mut egui::Ui, label: &str, text: &mut String, how: Field) -> bool {
    let label = ui.label(label);
    let response = ui
        .add(egui::TextEdit::singleline(text).password(how == Field::Hidden))
        .labelled_by(label.id);
    let enter = response.lost_focus() && ui.input(|i| i.key_pressed(Key::Enter));
    if how == Field::Focused || enter {
        response.request_focus();
    }
    enter
}

/// La hora local, `HH:MM:SS`.
fn now() -> String {
    chrono::Local::now().format("%H:%M:%S").to_string()
}
