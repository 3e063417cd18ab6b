//! Lo que cada requisito del enunciado le pide a un servidor, como
//! expectativas sobre sockets de verdad: quién recibe qué línea, y qué no
//! debe recibir nadie. Las líneas son las del contrato (informe, sección
//! 3.2), escritas por [`crate::curso::protocolo`]: la suite y el servidor
//! de este proyecto no pueden desacordarse en un texto. No arranca
//! servidores ni lee sockets: eso es de `target` y `wire`.
//!
//! Cada verificación arranca su propio servidor (con `SERVER_CMD`), así
//! que un requisito que cuelga o tumba el servidor no arrastra a los
//! demás. Los nombres llevan un sufijo al azar: con `SERVER_ADDR` todos
//! comparten un servidor que ya tiene cuentas.

use super::target::Running;
use super::wire::{Lines, Tcp, Udp, quoted};
use crate::curso::protocolo::{Event, Problem, WELCOME};
use std::time::Duration;

/// Lo que devuelve una verificación: `Err` con el texto del informe.
pub type Verdict = Result<(), String>;

/// Una verificación en curso: el servidor, el plazo de cada espera y lo
/// que no se pudo mirar.
pub struct Trial {
    run: Running,
    wait: Duration,
    suffix: String,
    /// Una expectativa sobre la consola quedó sin mirar (`SERVER_ADDR`).
    pub console_unchecked: bool,
}

/// Un usuario en la sala, por TCP.
struct User {
    name: String,
    tcp: Tcp,
}

/// Un usuario en la sala, por UDP.
struct UdpUser {
    name: String,
    udp: Udp,
}

/// La contraseña de la suite para `name`.
fn password(name: &str) -> String {
    format!("clave-{name}")
}

fn line(event: Event) -> String {
    event.to_string()
}

fn public(from: &str, text: &str) -> String {
    line(Event::Public {
        from: from.to_string(),
        text: text.to_string(),
    })
}

fn private(from: &str, text: &str) -> String {
    line(Event::Private {
        from: from.to_string(),
        text: text.to_string(),
    })
}

fn error(problem: Problem) -> String {
    line(Event::Error(problem))
}

/// `true` para cualquier confirmación de una transferencia hecha, también
/// una que el contrato no podría escribir (`You have -50 dollars.`, de un
/// servidor que deja el saldo negativo).
fn is_transfer_done(text: &str) -> bool {
    matches!(Event::parse(text), Some(Event::TransferSent { .. }))
        || text.starts_with("[SERVER] Client: You transferred ")
}

impl Trial {
    /// Una verificación contra `run`, con esperas de `wait`.
    pub fn new(run: Running, wait: Duration) -> Trial {
        let suffix: String = (0..4)
            .map(|_| {
                let n = rand::random_range(0..36u32);
                char::from_digit(n, 36).unwrap_or('x')
            })
            .collect();
        Trial {
            run,
            wait,
            suffix,
            console_unchecked: false,
        }
    }

    /// `base` con el sufijo de esta verificación: un nombre que ningún
    /// otro usuario del servidor tiene.
    fn name(&self, base: &str) -> String {
        format!("{base}_{}", self.suffix)
    }

    fn connect(&self, who: &str) -> Result<Tcp, String> {
        Tcp::connect(self.run.addr, who, self.wait)
    }

    /// Crea la cuenta `base` por TCP y declara `dollars` de saldo
    /// (enunciado 004, punto 5). No exige el saludo: eso lo mira 003.4, y
    /// así un servidor sin saludo falla solo ese requisito.
    fn join(&self, base: &str, dollars: u64) -> Result<User, String> {
        self.enter(base, dollars, false)
    }

    /// Como [`Trial::join`], y además exige el saludo del enunciado 003
    /// (punto 4) antes de la pregunta del saldo.
    fn join_greeted(&self, base: &str, dollars: u64) -> Result<User, String> {
        self.enter(base, dollars, true)
    }

    fn enter(&self, base: &str, dollars: u64, greeted: bool) -> Result<User, String> {
        let name = self.name(base);
        let mut tcp = self.connect(&name)?;
        tcp.send(&format!(":register {name} {}", password(&name)))?;
        if greeted {
            tcp.expect_line(WELCOME)?;
        }
        tcp.expect_line(&line(Event::AskBalance))?;
        tcp.send(&dollars.to_string())?;
        tcp.expect_line(&line(Event::BalanceSet(dollars)))?;
        Ok(User { name, tcp })
    }

    /// Crea la cuenta `base` por UDP (enunciado 000): el token llega en la
    /// respuesta, y desde ahí va delante de cada línea.
    fn join_udp(&self, base: &str, dollars: u64) -> Result<UdpUser, String> {
        let name = self.name(base);
        let mut udp = Udp::open(self.run.addr, &name, self.wait)?;
        udp.send(&format!(":register {name} {}", password(&name)))?;
        let token_line = udp.expect("`[SERVER] Client: Your token is <TOKEN>.`", &|l| {
            matches!(Event::parse(l), Some(Event::Token(_)))
        })?;
        if let Some(Event::Token(token)) = Event::parse(&token_line) {
            udp.use_token(&token);
        }
        udp.expect_line(&line(Event::AskBalance))?;
        udp.send(&dollars.to_string())?;
        udp.expect_line(&line(Event::BalanceSet(dollars)))?;
        Ok(UdpUser { name, udp })
    }

    /// Dónde empieza, en la consola, lo que sigue.
    fn mark(&self) -> usize {
        self.run.console.as_ref().map_or(0, |c| c.len())
    }

    /// La consola del servidor muestra `wanted` después de `mark`. Sin
    /// consola a la vista, queda anotado como sin mirar.
    fn console_shows(&mut self, mark: usize, wanted: &str) -> Verdict {
        let Some(console) = &self.run.console else {
            self.console_unchecked = true;
            return Ok(());
        };
        if console.wait_for(mark, self.wait, |l| l == wanted).is_some() {
            return Ok(());
        }
        let last: Vec<String> = console.last(4).iter().map(|l| quoted(l)).collect();
        Err(format!(
            "la consola del servidor: se esperaba `{wanted}` en {} s; lo último que mostró: {}",
            self.wait.as_secs(),
            if last.is_empty() {
                "nada".to_string()
            } else {
                last.join(", ")
            }
        ))
    }
}

/// La respuesta a `:u` que llega a `lines`: la línea y los nombres que
/// lista.
fn connected_users(lines: &mut impl Lines) -> Result<(String, Vec<String>), String> {
    let users = lines.expect("`[SERVER] Client: Connected users: ...`", &|l| {
        matches!(Event::parse(l), Some(Event::Users(_)))
    })?;
    match Event::parse(&users) {
        Some(Event::Users(listed)) => Ok((users, listed)),
        _ => Err(format!("{}: `:u` respondió `{users}`", lines.who())),
    }
}

/// `from` transfiere `amount` dólares a `to`, con la forma del enunciado
/// 004 (`:t - bob - 10`): a `from` le queda `left` y `to` tiene `has`, y
/// cada uno recibe su confirmación con ese saldo.
fn transfer(from: &mut User, to: &mut User, amount: u64, left: u64, has: u64) -> Verdict {
    from.tcp.send(&format!(":t - {} - {amount}", to.name))?;
    from.tcp.expect_line(&line(Event::TransferSent {
        to: to.name.clone(),
        amount,
        balance: left,
    }))?;
    to.tcp.expect_line(&line(Event::TransferReceived {
        from: from.name.clone(),
        amount,
        balance: has,
    }))
}

/// 003.1 y 004.1: seis clientes a la vez, y cada uno recibe lo que dicen
/// los otros cinco.
pub fn six_clients(t: &mut Trial) -> Verdict {
    let mut users = Vec::new();
    for base in ["ana", "bob", "carol", "dave", "eve", "fran"] {
        users.push(t.join(base, 100)?);
    }
    for speaker in 0..users.len() {
        let text = format!("hola, soy el número {speaker}");
        users[speaker].tcp.send(&text)?;
        let expected = public(&users[speaker].name, &text);
        for (listener, user) in users.iter_mut().enumerate() {
            if listener != speaker {
                user.tcp.expect_line(&expected)?;
            }
        }
    }
    Ok(())
}

/// 003.2 y 004.2: un identificador es de uno solo. Registrar un nombre
/// que ya existe y entrar a una cuenta ya conectada reciben su error.
pub fn unique_names(t: &mut Trial) -> Verdict {
    let ana = t.join("ana", 100)?;
    let mut other = t.connect("una segunda conexión")?;
    let admitted = |l: &str| l == WELCOME || l == line(Event::AskBalance);
    other.send(&format!(":register {} otra-clave", ana.name))?;
    other.expect_without(
        &error(Problem::NameTaken(ana.name.clone())),
        &admitted,
        "un nombre que ya tiene cuenta no se registra otra vez",
    )?;
    other.send(&format!(":login {} {}", ana.name, password(&ana.name)))?;
    other.expect_without(
        &error(Problem::AlreadyConnected(ana.name.clone())),
        &|l| l == WELCOME || matches!(Event::parse(l), Some(Event::Funds(_))),
        "un usuario conectado no entra dos veces",
    )
}

/// 003.3: lo que dice un cliente aparece en la consola del servidor como
/// `<Identifier>: Message`.
pub fn console_messages(t: &mut Trial) -> Verdict {
    let mut ana = t.join("ana", 100)?;
    let mark = t.mark();
    ana.tcp.send("hola, consola")?;
    t.console_shows(mark, &public(&ana.name, "hola, consola"))
}

/// 003.4: al conectarse, el cliente recibe el saludo del enunciado y la
/// consola del servidor avisa `[SERVER] Client: <Identifier> connected!`.
pub fn connect_notice(t: &mut Trial) -> Verdict {
    let mark = t.mark();
    let ana = t.join_greeted("ana", 100)?;
    t.console_shows(mark, &line(Event::Connected(ana.name)))
}

/// 003.5: `:q` cierra el socket del cliente.
pub fn quit_closes(t: &mut Trial) -> Verdict {
    let mut ana = t.join("ana", 100)?;
    ana.tcp.send(":q")?;
    ana.tcp.expect_closed()
}

/// 003.6: un hilo por conexión. Una conexión callada y otra con una línea
/// a medias no detienen a nadie: dos usuarios entran y conversan mientras
/// tanto.
pub fn thread_per_client(t: &mut Trial) -> Verdict {
    let _silent = t.connect("una conexión callada")?;
    let mut halfway = t.connect("una conexión con una línea a medias")?;
    halfway.send_bytes(b":regis")?;
    let mut ana = t.join("ana", 100)?;
    let mut bob = t.join("bob", 100)?;
    ana.tcp.send("nadie me detiene")?;
    bob.tcp.expect_line(&public(&ana.name, "nadie me detiene"))
}

/// 004.3: los demás ven `<Identifier>: Message`; quien lo envió no lo
/// recibe con su propio nombre (su cliente muestra `Me: Message`, o el
/// servidor se lo envía así).
pub fn messages_and_me(t: &mut Trial) -> Verdict {
    let mut ana = t.join("ana", 100)?;
    let mut bob = t.join("bob", 100)?;
    let mut carol = t.join("carol", 100)?;
    let text = "hola a todos";
    ana.tcp.send(text)?;
    let seen = public(&ana.name, text);
    bob.tcp.expect_line(&seen)?;
    carol.tcp.expect_line(&seen)?;
    ana.tcp.send(":funds")?;
    ana.tcp.expect_without(
        &line(Event::Funds(100)),
        &|l| l == seen,
        "quien envía un mensaje lo ve como `Me: ...`, no con su propio nombre",
    )
}

/// 004.4: al entrar y al salir, el usuario recibe su aviso (el saludo, la
/// despedida), los demás ven `<Identifier> connected!` y
/// `<Identifier> disconnected!`, y la consola del servidor también.
pub fn join_and_leave_notices(t: &mut Trial) -> Verdict {
    let mut ana = t.join("ana", 100)?;
    let mark = t.mark();
    let mut bob = t.join_greeted("bob", 100)?;
    let name = bob.name.clone();
    ana.tcp.expect_line(&line(Event::Connected(name.clone())))?;
    t.console_shows(mark, &line(Event::Connected(name.clone())))?;
    bob.tcp.send(":q")?;
    bob.tcp.expect_line(&line(Event::Goodbye))?;
    ana.tcp
        .expect_line(&line(Event::Disconnected(name.clone())))?;
    t.console_shows(mark, &line(Event::Disconnected(name)))
}

/// 004.5: al entrar se pregunta el saldo y se confirma, solo a quien
/// entra.
pub fn balance_on_entry(t: &mut Trial) -> Verdict {
    let mut ana = t.join("ana", 100)?;
    let bob = t.join("bob", 50000)?;
    let mut bob = bob;
    bob.tcp.send("listo")?;
    ana.tcp.expect_without(
        &public(&bob.name, "listo"),
        &|l| l == line(Event::AskBalance) || matches!(Event::parse(l), Some(Event::BalanceSet(_))),
        "la pregunta del saldo y su confirmación son solo para quien entra",
    )
}

/// 004.6: el servidor lleva el saldo de cada uno, las transferencias lo
/// mueven, y ninguno queda negativo.
pub fn balances_never_negative(t: &mut Trial) -> Verdict {
    let mut ana = t.join("ana", 100)?;
    let mut bob = t.join("bob", 0)?;
    let insufficient = error(Problem::InsufficientFunds);
    let refuse = "una transferencia mayor que el saldo es inválida";
    ana.tcp.send(&format!(":t - {} - 150", bob.name))?;
    ana.tcp
        .expect_without(&insufficient, &is_transfer_done, refuse)?;
    ana.tcp.send(":funds")?;
    ana.tcp.expect_line(&line(Event::Funds(100)))?;
    transfer(&mut ana, &mut bob, 60, 40, 60)?;
    ana.tcp.send(&format!(":t - {} - 41", bob.name))?;
    ana.tcp
        .expect_without(&insufficient, &is_transfer_done, refuse)?;
    ana.tcp.send(":funds")?;
    ana.tcp.expect_line(&line(Event::Funds(40)))?;
    bob.tcp.send(":funds")?;
    bob.tcp.expect_line(&line(Event::Funds(60)))
}

/// 004.7: los comandos del enunciado: `:u`, `:p - <Identifier> - Message`
/// (solo para su destinatario), los tres emojis, `:funds`,
/// `:t - <Identifier> - Amount` y `:q`.
pub fn commands(t: &mut Trial) -> Verdict {
    let mut ana = t.join("ana", 100)?;
    let mut bob = t.join("bob", 0)?;
    let mut carol = t.join("carol", 0)?;
    // `:u`: los tres, en cualquier orden (con `SERVER_ADDR`, las demás
    // verificaciones comparten el servidor y sus usuarios también están).
    ana.tcp.send(":u")?;
    let (users, listed) = connected_users(&mut ana.tcp)?;
    let expected = [ana.name.clone(), bob.name.clone(), carol.name.clone()];
    if !expected.iter().all(|name| listed.contains(name)) {
        return Err(format!(
            "{}: `:u` debía listar {} y respondió `{users}`",
            ana.name,
            expected.join(", ")
        ));
    }
    // `:p`: bob lo recibe; carol, no (lo sabe cuando le llega lo que ana
    // dijo después).
    ana.tcp
        .send(&format!(":p - {} - es un secreto", bob.name))?;
    bob.tcp.expect_line(&private(&ana.name, "es un secreto"))?;
    ana.tcp.send("después del secreto")?;
    carol.tcp.expect_without(
        &public(&ana.name, "después del secreto"),
        &|l| l.contains("es un secreto"),
        "un mensaje privado es solo para su destinatario",
    )?;
    // Los emojis.
    ana.tcp.send("caras: :smile :angry :confused")?;
    bob.tcp
        .expect_line(&public(&ana.name, "caras: :~) >:( :S"))?;
    // `:funds` y `:t`.
    ana.tcp.send(":funds")?;
    ana.tcp.expect_line(&line(Event::Funds(100)))?;
    transfer(&mut ana, &mut bob, 10, 90, 10)?;
    // `:q`: la despedida, y el socket se cierra.
    ana.tcp.send(":q")?;
    ana.tcp.expect_line(&line(Event::Goodbye))?;
    ana.tcp.expect_closed()
}

/// 004.8: los hilos no pierden dinero. Seis usuarios con 1000 dólares se
/// transfieren 1 dólar 50 veces cada uno, al siguiente en ronda, todos a
/// la vez: cada uno envía 50 y recibe 50, así que todos terminan con 1000.
/// Un saldo que se lee y se escribe sin sección crítica pierde
/// actualizaciones.
pub fn critical_sections(t: &mut Trial) -> Verdict {
    const USERS: usize = 6;
    const TRANSFERS: usize = 50;
    let mut users = Vec::new();
    for base in ["ana", "bob", "carol", "dave", "eve", "fran"] {
        users.push(t.join(base, 1000)?);
    }
    let names: Vec<String> = users.iter().map(|u| u.name.clone()).collect();
    for (i, user) in users.iter_mut().enumerate() {
        let to = &names[(i + 1) % USERS];
        let batch = format!(":t - {to} - 1\n").repeat(TRANSFERS);
        user.tcp.send_bytes(batch.as_bytes())?;
    }
    for user in &mut users {
        for _ in 0..TRANSFERS {
            user.tcp.expect(
                "la confirmación de cada una de sus 50 transferencias",
                &is_transfer_done,
            )?;
        }
    }
    // Cada uno ya envió las suyas; las que recibe pueden estar en camino
    // en el hilo de su vecino, que ya confirmó las suyas arriba.
    for user in &mut users {
        user.tcp.send(":funds")?;
        user.tcp.expect_without(
            &line(Event::Funds(1000)),
            &|l| matches!(Event::parse(l), Some(Event::Funds(_))),
            "envió 50 dólares y recibió 50: debía tener 1000 (una actualización se perdió)",
        )?;
    }
    Ok(())
}

/// 000: por UDP, un cliente se registra y recibe un token, que va delante
/// de cada línea; lo que dice llega a los demás. Una línea con un token
/// que no es el suyo no llega a nadie.
pub fn udp_tokens(t: &mut Trial) -> Verdict {
    let mut ana = t.join_udp("ana", 100)?;
    let mut bob = t.join_udp("bob", 100)?;
    ana.udp.send("hola por UDP")?;
    bob.udp.expect_line(&public(&ana.name, "hola por UDP"))?;
    // El token de ana con su última cifra cambiada, desde su misma
    // dirección: no es de nadie.
    let token = ana.udp.token().unwrap_or_default().to_string();
    let forged: String = token
        .char_indices()
        .map(|(i, c)| {
            if i + 1 == token.len() {
                if c == '0' { '1' } else { '0' }
            } else {
                c
            }
        })
        .collect();
    ana.udp.send_raw(&format!("{forged} soy un intruso"))?;
    ana.udp.expect_line(&error(Problem::BadToken))?;
    ana.udp.send("después del intruso")?;
    bob.udp.expect_without(
        &public(&ana.name, "después del intruso"),
        &|l| l.contains("soy un intruso"),
        "una línea con un token que no es de nadie no se acepta",
    )
}

/// 001, puntos 1 y 2: clientes TCP y UDP a la vez, en el mismo puerto y en
/// la misma sala: cada uno recibe lo que dice el otro, y `:u` lista a los
/// dos.
pub fn tcp_and_udp_together(t: &mut Trial) -> Verdict {
    let mut ana = t.join("ana", 100)?;
    let mut bob = t.join_udp("bob", 100)?;
    ana.tcp.send("hola desde TCP")?;
    bob.udp.expect_line(&public(&ana.name, "hola desde TCP"))?;
    bob.udp.send("hola desde UDP")?;
    ana.tcp.expect_line(&public(&bob.name, "hola desde UDP"))?;
    bob.udp.send(":u")?;
    let (users, listed) = connected_users(&mut bob.udp)?;
    if listed.contains(&ana.name) && listed.contains(&bob.name) {
        Ok(())
    } else {
        Err(format!(
            "{}: `:u` debía listar a {} (TCP) y a {} (UDP) y respondió `{users}`",
            bob.name, ana.name, bob.name
        ))
    }
}

/// 001, punto 4: de un cliente a otro a través del servidor, también entre
/// transportes: un privado de TCP a UDP y otro de vuelta.
pub fn point_to_point(t: &mut Trial) -> Verdict {
    let mut ana = t.join("ana", 100)?;
    let mut bob = t.join_udp("bob", 100)?;
    ana.tcp
        .send(&format!(":p - {} - solo para bob", bob.name))?;
    bob.udp.expect_line(&private(&ana.name, "solo para bob"))?;
    bob.udp
        .send(&format!(":p - {} - solo para ana", ana.name))?;
    ana.tcp.expect_line(&private(&bob.name, "solo para ana"))
}

/// 002: el servidor de eco devuelve cada mensaje terminado en `\n` tal
/// cual, con sus acentos y su ñ, aunque llegue en muchos pedazos o dos
/// juntos.
pub fn echo(t: &mut Trial) -> Verdict {
    let mut client = t.connect("el cliente de eco")?;
    client.send("Hola Server!")?;
    client.expect_line("Hola Server!")?;
    let accents = "¡Añoranza del ñandú, canción y pingüino!";
    for byte in format!("{accents}\n").as_bytes() {
        client.send_bytes(&[*byte])?;
    }
    client.expect_line(accents)?;
    client.send_bytes(b"uno\ndos\n")?;
    client.expect_line("uno")?;
    client.expect_line("dos")
}
