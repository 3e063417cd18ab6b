#!/usr/bin/env bash
# El video y la captura de la demostración (enunciado 001, puntos 3 y 6):
# un servidor real, dos `cliente-gui` y un `cliente` de terminal en una
# pantalla virtual (Xvfb), manejados con xdotool y grabados con ffmpeg.
#
#   bash informe/video.sh
#
# Deja informe/demo/video.webm y informe/demo/gui.png. Se puede repetir:
# cada vez usa un directorio de datos nuevo y el puerto que el sistema dé
# libre (todo en 127.0.0.1). Instala lo que falte (Debian: xvfb, xdotool,
# ffmpeg, imagemagick, xterm y los paquetes GL de Mesa).
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
for tool in Xvfb xdotool ffmpeg import xterm; do
  command -v "$tool" >/dev/null 2>&1 || need+=("$tool")
done
if [ ${#need[@]} -gt 0 ] || ! ldconfig -p | grep -q libEGL.so.1; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
    xvfb xdotool ffmpeg imagemagick xterm libgl1 libegl1 libgl1-mesa-dri >/dev/null
fi

cargo build -q --bin servidor --bin cliente -p chat
cargo build -q -p cliente-gui
bin=target/debug

out=informe/demo
mkdir -p "$out"
work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

# Una pantalla libre: :90, :91...
display=90
while [ -e "/tmp/.X11-unix/X$display" ] || [ -e "/tmp/.X$display-lock" ]; do
  display=$((display + 1))
done
export DISPLAY=":$display"
W=1720
H=1080
Xvfb "$DISPLAY" -screen 0 "${W}x${H}x24" -nolisten tcp >"$work/xvfb.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do xdotool getdisplaygeometry >/dev/null 2>&1 && break; sleep 0.1; done

# La consola del servidor, en un xterm abajo a la izquierda. Su primera
# línea dice el puerto elegido.
xterm -geometry 118x26+0+640 -fa Monospace -fs 9 -T servidor -e bash -c \
  "$bin/servidor --addr 127.0.0.1:0 --data-dir '$work/datos' | tee '$work/consola.log'" &
pids+=($!)
for _ in $(seq 200); do grep -q '^Listening on' "$work/consola.log" 2>/dev/null && break; sleep 0.1; done
addr=$(sed -n 's/^Listening on //p' "$work/consola.log" | head -1)
[ -n "$addr" ] || { echo "video.sh: el servidor no arrancó" >&2; exit 1; }
echo "servidor en $addr"

# Espera la ventana nueva de un proceso y la pone en (x, y).
window_of() {
  local pid=$1 x=$2 y=$3 id=""
  for _ in $(seq 300); do
    id=$(xdotool search --pid "$pid" 2>/dev/null | tail -1 || true)
    [ -n "$id" ] && break
    sleep 0.1
  done
  [ -n "$id" ] || { echo "video.sh: no apareció la ventana de $pid" >&2; exit 1; }
  xdotool windowmove "$id" "$x" "$y"
  sleep 0.5
  echo "$id"
}

# Clic en (x, y) de una ventana, y escribir en ella.
click() { xdotool mousemove --window "$1" "$2" "$3" click 1; sleep 0.4; }
typed() { xdotool windowfocus --sync "$1"; xdotool type --delay 60 "$2"; sleep 0.3; }
key() { xdotool windowfocus --sync "$1"; xdotool key "$2"; sleep 0.6; }
line() { typed "$1" "$2"; key "$1" Return; }

"$bin/cliente-gui" --addr "$addr" >"$work/gui-ana.log" 2>&1 &
ana_pid=$!
pids+=($ana_pid)
ana=$(window_of $ana_pid 0 0)
"$bin/cliente-gui" --addr "$addr" >"$work/gui-bob.log" 2>&1 &
bob_pid=$!
pids+=($bob_pid)
bob=$(window_of $bob_pid 860 0)
xterm -geometry 118x26+860+640 -fa Monospace -fs 9 -T cliente -e "$bin/cliente" --addr "$addr" &
pids+=($!)
carla=$(window_of $! 860 640)

ffmpeg -loglevel error -y -f x11grab -framerate 6 -video_size "${W}x${H}" -i "$DISPLAY" \
  -c:v libvpx-vp9 -b:v 200k -deadline realtime -cpu-used 8 "$work/video.webm" </dev/null &
ffmpeg_pid=$!
pids+=($ffmpeg_pid)
sleep 2

# Punto 1 y 3: cada cliente inicia sesión. Las ventanas empiezan con el
# foco en "Nombre"; Tab pasa a "Contraseña".
for who in ana bob; do
  win=${!who}
  click "$win" 220 73
  typed "$win" "$who"
  key "$win" Tab
  typed "$win" "clave-$who"
  click "$win" 96 127 # Register
  sleep 1
  [ "$who" = ana ] && line "$win" 100 || line "$win" 50
  sleep 1
done
line "$carla" ":register carla clave-carla"
line "$carla" 80
sleep 1

# Punto 2 y 4: mensajes públicos, con un emoji.
line "$ana" "Hola a todos :smile"
line "$carla" "hola desde la terminal"
line "$bob" "buenas! ¿alguien vende una bici?"
sleep 1

# Un privado por UDP: bob elige UDP y a ana en la lista de conectados.
click "$bob" 145 535 # UDP
click "$bob" 690 246 # ana, primera de la lista
click "$bob" 300 557 # el campo del mensaje
line "$bob" "te escribo en privado por UDP"
sleep 1

# Una transferencia desde el formulario de ana: 30 dólares a bob.
click "$ana" 718 92      # "A quién"
click "$ana" 718 118     # bob, primero del menú
click "$ana" 760 133     # "Monto"
typed "$ana" 30
click "$ana" 705 156     # Transferir
sleep 1

# La terminal: la lista de usuarios y una línea por UDP.
line "$carla" ":u"
line "$carla" ":udp"
line "$carla" "esta va por UDP"
sleep 2
import -window root "$work/pantalla.png"
# Las dos ventanas, con el nombre, la IP y los puertos de cada una.
convert "$work/pantalla.png" -crop 1720x600+0+0 +repage "$out/gui.png"

# Alguien se va: la lista de las dos ventanas lo sigue.
line "$carla" ":q"
sleep 3

kill -INT "$ffmpeg_pid"
wait "$ffmpeg_pid" 2>/dev/null || true
cp "$work/video.webm" "$out/video.webm"
ls -l "$out/video.webm" "$out/gui.png"
