# Las esperas que comparten los guiones del informe (se carga con `source`).
# Nada espera un tiempo fijo: cada paso espera a que aparezca la línea que
# lo prueba, con un tope de WAIT_SECS segundos (5 si no se dice otro).

# Espera hasta que el archivo $1 tenga una línea que contiene $2.
wait_for() {
    for _ in $(seq $((${WAIT_SECS:-5} * 100))); do
        if grep -qF -- "$2" "$1" 2>/dev/null; then return 0; fi
        sleep 0.01
    done
    echo "$(basename "$0"): no llegó «$2» a $1" >&2
    cat "$1" >&2
    exit 1
}

# say NOMBRE LÍNEA ESPERA: escribe LÍNEA como si la tecleara NOMBRE (en la
# FIFO abierta en el descriptor fd_NOMBRE, y en su transcripción
# "$work/NOMBRE.txt", como la mostraría la terminal) y espera ESPERA.
say() {
    local who=$1 line=$2 expect=$3 fd
    fd="fd_$who"
    printf '%s\n' "$line" >>"$work/$who.txt"
    printf '%s\n' "$line" >&"${!fd}"
    wait_for "$work/$who.txt" "$expect"
}
