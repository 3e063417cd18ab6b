# Lo que comparten demo.sh y captura.sh (se carga con `source`): compila los
# binarios, crea un directorio de trabajo temporal que se borra al salir
# (junto con los procesos anotados en `pids`), y arranca el servidor en una
# dirección libre, con hashes baratos: `addr` queda con su HOST:PUERTO.

cargo build --quiet --bins
bin=target/debug
work=$(mktemp -d)
mkdir -p informe/demo
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

source informe/esperar.sh

"$bin/servidor" --addr 127.0.0.1:0 --data-dir "$work/datos" --hash-cost minimal >"$work/servidor.txt" &
pids+=($!)
wait_for "$work/servidor.txt" "Listening on"
addr=$(head -1 "$work/servidor.txt" | sed 's/^Listening on //')
