#!/usr/bin/env bash
# La demostración del anexo (informe/05-anexo-demostracion.md): una sesión
# real con los binarios del proyecto. El servidor y tres clientes (alice y
# bob por TCP, carol por UDP) en un directorio de datos temporal; cada
# cliente lee de una tubería con nombre (FIFO) y el script escribe en ella
# como si fuera el teclado, esperando la respuesta antes de la línea
# siguiente. Deja la consola del servidor y la de cada cliente en
# informe/demo/sesion.md.
#
# Uso: bash informe/demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."

# Compila, crea "$work", arranca el servidor (pids[0]) y deja "$addr".
source informe/comun.sh
out=informe/demo/sesion.md

# start NOMBRE [opciones del cliente]: un cliente que lee de la FIFO NOMBRE.in.
start() {
    local who=$1
    shift
    mkfifo "$work/$who.in"
    "$bin/cliente" --addr "$addr" "$@" <"$work/$who.in" >>"$work/$who.txt" 2>&1 &
    pids+=($!)
    # Abrir la FIFO para escribir la deja abierta mientras dure el script.
    eval "exec {fd_$who}>\"$work/$who.in\""
}


start alice
wait_for "$work/alice.txt" "Sign in with"
say alice ":register alice clave-alice" "What is your balance?"
say alice "50000" "The balance of 50000 has been set"
wait_for "$work/servidor.txt" "alice uses UDP"

start bob
wait_for "$work/bob.txt" "Sign in with"
say bob ":register bob clave-bob" "What is your balance?"
say bob "1500" "The balance of 1500 has been set"
wait_for "$work/alice.txt" "bob connected!"

start carol --udp
wait_for "$work/carol.txt" "Sign in with"
say carol ":register carol clave-carol" "What is your balance?"
say carol "300" "The balance of 300 has been set"
wait_for "$work/bob.txt" "carol connected!"

say alice "hola a todos :smile" "Me: hola a todos"
wait_for "$work/carol.txt" "alice: hola a todos"
say carol "hola, les escribo por UDP" "Me: hola, les escribo por UDP"
wait_for "$work/bob.txt" "carol: hola, les escribo por UDP"
say alice ":p - bob - ¿me vendes la bici?" "Me → bob: ¿me vendes"
wait_for "$work/bob.txt" "[PRIVATE] alice:"
say bob ":u" "Connected users:"
say bob ":t alice 5000" "sufficient funds"
say bob ":t alice 1000" "You transferred 1000 dollars to alice"
wait_for "$work/alice.txt" "bob transferred 1000 dollars to you"
say alice ":funds" "You have 51000 dollars."
say carol ":q" "You have been disconnected"
wait_for "$work/alice.txt" "carol disconnected!"
say bob ":q" "You have been disconnected"
wait_for "$work/alice.txt" "bob disconnected!"
say alice ":q" "You have been disconnected"
wait_for "$work/servidor.txt" "alice disconnected!"

# Los puertos efímeros cambian en cada corrida: se numeran en el orden en
# que aparecen (EFIMERO1, EFIMERO2...), el mismo número para el mismo
# puerto en todo el archivo, así que cada cliente se sigue distinguiendo por
# sus puertos (enunciado 001, punto 3) y regenerar el archivo no muestra
# cambios sin sentido. El puerto del servidor queda como PUERTO.
anonymize() {
    sed -E -e "s/127\.0\.0\.1:${addr##*:}\b/127.0.0.1:PUERTO/g" \
        -e 's/[0-9a-f]{32}/TOKEN/g' |
        awk '
        function number(port) {
            if (!(port in seen)) seen[port] = "EFIMERO" (++count)
            return seen[port]
        }
        {
            line = $0
            out = ""
            # "127.0.0.1:51234", "port 51234" y "port is 51234".
            while (match(line, /(127\.0\.0\.1:|port (is )?)[0-9]+/)) {
                text = substr(line, RSTART, RLENGTH)
                before = substr(line, 1, RSTART - 1)
                line = substr(line, RSTART + RLENGTH)
                match(text, /[0-9]+$/)
                digits = substr(text, RSTART)
                prefix = substr(text, 1, RSTART - 1)
                out = out before prefix number(digits)
            }
            print out line
        }'
}

{
    echo "# Sesión de demostración"
    echo
    echo "Generado por \`bash informe/demo.sh\` con los binarios del proyecto."
    echo "El puerto del servidor se reemplazó por PUERTO, los tokens por TOKEN y"
    echo "cada puerto efímero por EFIMERO1, EFIMERO2... (el mismo número para el"
    echo "mismo puerto): cambian en cada corrida. En los clientes, las líneas sin"
    echo "prefijo son lo que escribió cada usuario."
    for who in servidor alice bob carol; do
        echo
        case $who in
        servidor) echo "## Consola del servidor" ;;
        alice) echo "## alice (cliente TCP)" ;;
        bob) echo "## bob (cliente TCP)" ;;
        carol) echo "## carol (cliente UDP, \`--udp\`)" ;;
        esac
        echo
        echo '```text'
        cat "$work/$who.txt"
        echo '```'
    done
} | anonymize >"$out"
echo "demo: escrito $out"
