#!/usr/bin/env bash
# La captura de paquetes del anexo (informe/05-anexo-demostracion.md): el
# handshake TCP, una línea de chat, un datagrama UDP y el cierre, sobre
# loopback, vistos con tcpdump. Arranca el servidor en un puerto libre,
# captura solo ese puerto (TCP y UDP) y hace entrar a un cliente por tubería.
# Deja el texto de tcpdump en informe/demo/captura.txt.
#
# Uso: bash informe/captura.sh
# Necesita tcpdump (Debian: apt-get install tcpdump) y permiso para capturar
# (root, o CAP_NET_RAW).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v tcpdump >/dev/null; then
    echo "captura: falta tcpdump (en Debian: apt-get install tcpdump)" >&2
    exit 1
fi
# Compila, crea "$work", arranca el servidor (pids[0]) y deja "$addr".
source informe/comun.sh
out=informe/demo/captura.txt
port=${addr##*:}

# -i lo: la interfaz loopback; -n: sin resolver nombres; -l: línea a línea;
# -A: el contenido de cada paquete en ASCII; -tt: marca de tiempo en segundos.
tcpdump -i lo -n -l -A -tt "port $port" >"$work/captura.txt" 2>"$work/tcpdump.err" &
pids+=($!)
wait_for "$work/tcpdump.err" "listening on"

# Un cliente TCP que entra, saluda y sale, leyendo de una FIFO. Al entrar,
# el cliente abre su socket UDP y envía "<TOKEN> :ping": ese es el
# datagrama UDP de la captura; se espera su "pong" antes de seguir. El
# cliente no lo muestra (es su propio :ping): se lo espera en la captura.
mkfifo "$work/cliente.in"
"$bin/cliente" --addr "$addr" <"$work/cliente.in" >"$work/cliente.txt" &
pids+=($!)
exec 3>"$work/cliente.in"
printf ':register ana clave-ana\n100\n' >&3
wait_for "$work/captura.txt" "Client: pong"
printf 'hola por TCP\n' >&3
wait_for "$work/servidor.txt" "ana: hola por TCP"
printf ':q\n' >&3
wait_for "$work/servidor.txt" "Connection closed"
sleep 0.5
kill "${pids[1]}"
wait "${pids[1]}" 2>/dev/null || true

# Lo que cambia en cada corrida se quita o se reemplaza, para que
# regenerar el archivo solo muestre lo que cambió de verdad: el tiempo pasa
# a milisegundos desde el primer paquete; de cada paquete queda la línea
# de tcpdump y sus datos (los últimos `length` bytes del volcado de -A: lo
# de antes son las cabeceras IP y TCP o UDP, con identificadores, sumas y
# marcas de tiempo que cambian siempre); los puertos, los números de
# secuencia, el token y la cookie pasan a nombres fijos. Los tiempos siguen
# variando: son medidos.
awk '
    function flush() {
        if (size > 0 && have) {
            data = substr(dump, length(dump) - size + 1)
            sub(/\n$/, "", data)
            print data
        }
        if (have) print ""
        dump = ""
        have = 0
    }
    /^[0-9]+\.[0-9]+ IP/ {
        flush()
        if (start == "") start = $1
        $1 = sprintf("%8.3f ms", ($1 - start) * 1000)
        size = 0
        if (match($0, /length [0-9]+$/)) size = substr($0, RSTART + 7) + 0
        print
        next
    }
    start != "" {
        dump = have ? dump "\n" $0 : $0
        have = 1
    }
    END { flush() }
' "$work/captura.txt" |
    sed -E -e "s/127\.0\.0\.1\.$port\b/SERVIDOR.PUERTO/g" \
        -e 's/127\.0\.0\.1\.[0-9]+/CLIENTE.efimero/g' \
        -e 's/[0-9a-f]{32}/TOKEN/g' \
        -e 's/Cookie [0-9a-f]{16}/Cookie COOKIE/g' -e 's/[0-9a-f]{16} TOKEN/COOKIE TOKEN/g' \
        -e 's/(seq|ack|win|val|ecr) [0-9:]+/\1 N/g' >"$out"
echo "captura: escrito $out ($(grep -c ' IP ' "$out") paquetes)"
