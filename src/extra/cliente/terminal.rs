//! El modo TCP del cliente (el de siempre): la conexión TCP, más un socket
//! UDP que se abre al recibir el token, para el relay del enunciado 001:
//! `:udp` y `:tcp` eligen por dónde viajan las líneas siguientes.

use super::Settings;
use super::core::{Shared, Wire, converse};
use super::ending::Ending;
use super::screen::{Screen, Shown};
use super::seams::Plugins;
use crate::curso::cliente::MAX_SERVER_LINE_BYTES;
use crate::curso::framing::{Frame, read_frame};
use crate::curso::protocolo::Event;
use std::io::{self, BufReader};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

/// El modo TCP: conecta a `settings.addr`, muestra lo que llega y envía
/// lo que da `input`, hasta que la sesión termina. Error: no se pudo
/// conectar.
pub(super) fn run(
    settings: &Settings,
    plugins: Plugins,
    input: impl Iterator<Item = String> + Send + 'static,
    screen: Arc<dyn Screen>,
) -> io::Result<Ending> {
    let stream = TcpStream::connect(&settings.addr)?;
    stream.set_nodelay(true)?;
    let me = stream.local_addr()?;
    let server = stream.peer_addr()?;
    // Por TCP no hace falta mantenimiento: la conexión basta.
    let plugins = Plugins {
        keepalive: Duration::MAX,
        ..plugins
    };
    let shared = Shared::new(screen, server, None, plugins);
    let wire = Wire::Tcp(stream.try_clone()?);
    converse(&shared, input, wire, || {
        receive_lines(BufReader::new(stream), &shared, me);
    })?;
    Ok(shared.ending())
}

/// El receptor: muestra cada línea del servidor hasta que la conexión se
/// cierra. Con el token abre el lado UDP; ya en la sala, le presenta al
/// servidor la dirección UDP de este cliente.
fn receive_lines(mut reader: BufReader<TcpStream>, shared: &Arc<Shared>, me: SocketAddr) {
    let mut raw = Vec::new();
    let mut presented = false;
    loop {
        match read_frame(&mut reader, &mut raw, MAX_SERVER_LINE_BYTES) {
            Ok(Frame::Line) => {}
            // El servidor nunca envía algo así: no se guarda ni se muestra.
            Ok(Frame::TooLong) => continue,
            Ok(Frame::Eof) | Err(_) => return,
        }
        let line = String::from_utf8_lossy(&raw);
        match shared.receive(&line, me) {
            Some(Event::UdpToken(_)) => open_udp_side(shared, me),
            // Ya en la sala, sin respuestas pendientes que confundir.
            Some(Event::BalanceSet(_) | Event::Funds(_)) if !presented => {
                presented = true;
                present_udp_address(shared);
            }
            _ => {}
        }
    }
}

/// Un `:ping` por UDP con el token: desde ahí el servidor conoce la
/// dirección UDP de este cliente. Su `pong` no se muestra: no lo pidió el
/// usuario.
fn present_udp_address(shared: &Shared) {
    let presented = {
        let mut state = shared.lock();
        let both = state.udp.clone().zip(state.token.clone());
        state.auto_pings += u32::from(both.is_some());
        both
    };
    if let Some((udp, token)) = presented {
        let _ = shared.send_datagram(&udp, Some(&token), ":ping");
    }
}

/// Con el token de una sesión TCP, abre el socket UDP y lanza su receptor.
fn open_udp_side(shared: &Arc<Shared>, tcp_me: SocketAddr) {
    let socket = match super::udp::udp_socket(shared.server) {
        Ok(socket) => Arc::new(socket),
        Err(error) => {
            return shared.screen.show(Shown::UdpUnavailable(error.to_string()));
        }
    };
    let udp_port = socket.local_addr().map(|a| a.port()).unwrap_or(0);
    shared.lock().udp = Some(Arc::clone(&socket));
    let receiver = Arc::clone(shared);
    let receiving = Arc::clone(&socket);
    let spawned = thread::Builder::new()
        .name("udp receiver".into())
        .spawn(move || super::udp::receive_datagrams(&receiver, &receiving, false));
    if spawned.is_err() {
        return;
    }
    shared.screen.show(Shown::UdpReady {
        tcp_port: tcp_me.port(),
        udp_port,
    });
}
