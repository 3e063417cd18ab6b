"""Mide src/ como lo pide la revisión del núcleo: líneas de código sin
contar los módulos #[cfg(test)], las líneas en blanco ni los comentarios,
por archivo, por carpeta (curso/, extra/...) y en total, y las funciones de más de 50 líneas o con más de
cuatro niveles de anidamiento dentro de su cuerpo.

Uso: python3 .ci/medir-src.py [carpeta]   (por defecto, src)

Es una medida aproximada, por llaves: cuenta también las de los literales
de structs y de los `match`, así que exagera el anidamiento, nunca lo
esconde.
"""
import glob
import re
import sys


def without_tests(text):
    lines, out, i = text.split("\n"), [], 0
    while i < len(lines):
        if lines[i].strip() == "#[cfg(test)]":
            j, depth, started = i + 1, 0, False
            while j < len(lines):
                depth += lines[j].count("{") - lines[j].count("}")
                started |= "{" in lines[j]
                j += 1
                if started and depth <= 0:
                    break
                # Un ítem sin cuerpo (`use ...;`, `type ... = ...;`)
                # termina en su `;`: no se lleva lo que sigue.
                if not started and lines[j - 1].rstrip().endswith(";"):
                    break
            i = j
            continue
        out.append(lines[i])
        i += 1
    return out


def functions(lines):
    for k, line in enumerate(lines):
        m = re.match(r"\s*(pub(\([^)]*\))?\s+)?(const\s+)?(unsafe\s+)?fn\s+(\w+)", line)
        if not m or line.rstrip().endswith(";"):
            continue
        depth, started, deepest = 0, False, 0
        for j in range(k, len(lines)):
            depth += lines[j].count("{") - lines[j].count("}")
            started |= "{" in lines[j]
            if started:
                deepest = max(deepest, depth)
            if started and depth <= 0:
                break
        # `deepest` cuenta la llave de la función: sus niveles son uno menos.
        yield m.group(5), j - k + 1, deepest - 1


root = sys.argv[1] if len(sys.argv) > 1 else "src"
total, long = 0, []
# Por carpeta de primer nivel dentro de `root` (curso, extra, bin; los
# archivos sueltos como lib.rs van en "."): la meta del núcleo del curso se
# mide sobre curso/ sola.
folders = {}
for path in sorted(glob.glob(root + "/**/*.rs", recursive=True)):
    lines = without_tests(open(path, encoding="utf-8").read())
    code = [l for l in lines if l.strip() and not l.strip().startswith("//")]
    total += len(code)
    inner = path[len(root):].lstrip("/").split("/")
    folder = inner[0] if len(inner) > 1 else "."
    folders[folder] = folders.get(folder, 0) + len(code)
    print(f"{len(code):6} {path}")
    long += [(n, d, path, name) for name, n, d in functions(lines) if n > 50 or d > 4]
for folder, lines in sorted(folders.items()):
    print(f"{lines:6} {root}/{folder}/ (en total)")
print(f"total {total}")
for n, d, path, name in sorted(long, reverse=True):
    print(f"  {path}:{name}: {n} líneas, {d} niveles")
if not long:
    print("ninguna función pasa de 50 líneas ni de cuatro niveles")
