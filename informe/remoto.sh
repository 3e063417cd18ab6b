#!/usr/bin/env bash
# La conexión remota del enunciado 001 (punto 4), mostrada en una sola
# máquina: dos "máquinas" de mentira, cada una un espacio de red propio
# (`ip netns`), unidas por un cable virtual (un par veth) con direcciones del
# rango de documentación 192.0.2.0/24 (RFC 5737). En "servidor" corren el
# servidor, escuchando en su dirección del cable (192.0.2.1), y alice, que
# se conecta desde la misma máquina; en "remota" (192.0.2.2) corre bob, que
# llega por el cable, como llegaría desde otra computadora del aula. Bob
# escribe por TCP y por UDP, alice le responde en privado. Deja las tres
# consolas en informe/demo/remoto.md. Al salir borra los dos espacios (y con
# ellos el cable): nada queda en la red de la máquina.
#
# Pide root (crear espacios de red) e `ip` (iproute2). Sin eso, dice por qué
# y no hace nada.
#
# Uso: sudo bash informe/remoto.sh
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ] || ! command -v ip >/dev/null; then
    echo "remoto.sh: hace falta root e iproute2 (ip netns) para crear las dos máquinas de mentira" >&2
    exit 1
fi

cargo build --quiet --bins
bin=$PWD/target/debug
work=$(mktemp -d)
out=informe/demo/remoto.md
mkdir -p informe/demo
server_ns="chat-servidor-$$"
remote_ns="chat-remota-$$"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    ip netns del "$remote_ns" 2>/dev/null || true
    ip netns del "$server_ns" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

# Las dos máquinas y el cable entre ellas.
ip netns add "$server_ns"
ip netns add "$remote_ns"
ip link add cable0 netns "$server_ns" type veth peer name cable1 netns "$remote_ns"
ip -n "$server_ns" addr add 192.0.2.1/24 dev cable0
ip -n "$remote_ns" addr add 192.0.2.2/24 dev cable1
for ns in "$server_ns" "$remote_ns"; do ip -n "$ns" link set lo up; done
ip -n "$server_ns" link set cable0 up
ip -n "$remote_ns" link set cable1 up

# Las esperas (wait_for) y el teclado de mentira (say), con 10 s de tope.
WAIT_SECS=10
source informe/esperar.sh

ip netns exec "$server_ns" "$bin/servidor" --addr 192.0.2.1:5500 \
    --data-dir "$work/datos" --hash-cost minimal >"$work/servidor.txt" &
pids+=($!)
wait_for "$work/servidor.txt" "Listening on"

# start ESPACIO NOMBRE: un cliente en ESPACIO que lee de la FIFO NOMBRE.in.
start() {
    local ns=$1 who=$2
    mkfifo "$work/$who.in"
    ip netns exec "$ns" "$bin/cliente" --addr 192.0.2.1:5500 \
        <"$work/$who.in" >>"$work/$who.txt" 2>&1 &
    pids+=($!)
    eval "exec {fd_$who}>\"$work/$who.in\""
}


start "$server_ns" alice
wait_for "$work/alice.txt" "Sign in with"
say alice ":register alice clave-alice" "What is your balance?"
say alice "100" "The balance of 100 has been set"

start "$remote_ns" bob
wait_for "$work/bob.txt" "Sign in with"
say bob ":register bob clave-bob" "What is your balance?"
say bob "50" "The balance of 50 has been set"
wait_for "$work/alice.txt" "bob connected!"
wait_for "$work/servidor.txt" "bob uses UDP"

say bob "hola desde la otra máquina, por TCP" "Me: hola desde la otra máquina"
wait_for "$work/alice.txt" "bob: hola desde la otra máquina, por TCP"
say bob ":udp" "UDP"
say bob "y esta línea viaja por UDP" "Me: y esta línea viaja por UDP"
wait_for "$work/alice.txt" "bob: y esta línea viaja por UDP"
say alice ":p bob te llegó por el cable" "Me → bob"
wait_for "$work/bob.txt" "[PRIVATE] alice: te llegó por el cable"
say bob ":q" "You have been disconnected"
wait_for "$work/alice.txt" "bob disconnected!"
say alice ":q" "You have been disconnected"
wait_for "$work/servidor.txt" "alice disconnected"

# Los puertos efímeros cambian en cada corrida: se reemplazan por nombres.
fixed() {
    sed -E 's/:5500\b/:PUERTO/g; s/192\.0\.2\.([12]):[0-9]{4,5}/192.0.2.\1:EFÍMERO/g;
        s/port is [0-9]{4,5}/port is EFÍMERO/g; s/:PUERTO/:5500/g'
}
{
    echo "# La conexión remota, en dos espacios de red"
    echo
    echo "Generado por \`sudo bash informe/remoto.sh\`: el servidor y alice en la"
    echo "máquina 192.0.2.1, bob en la máquina 192.0.2.2, unidas por un par veth."
    echo "Los puertos efímeros se reemplazan por EFÍMERO."
    for who in servidor alice bob; do
        echo
        echo "## $who"
        echo
        echo '```text'
        fixed <"$work/$who.txt"
        echo '```'
    done
} >"$out"
echo "remoto.sh: escrito $out"
