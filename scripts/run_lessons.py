#!/usr/bin/python3
"""Execute lesson notebooks in order through Jupyter's own client (nbclient) with the course kernel.

Executed copies go to build/lessons/ (also when a cell fails, so nothing is lost). On a failure the
notebook, the failing cell's source and its stderr are printed: tslab reports compile and runtime
errors only on the cell's stderr stream, not as ename/evalue.
"""
import argparse
import glob
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KERNEL = 'diffusion-ts'
MODES = ('quick', 'standard', 'full')
# A workshop lesson in standard mode should run in 5 minutes on 2 CPU cores (issue 28); longer ones are marked.
STANDARD_LIMIT_S = 300


def fail(msg):
    print(f'lessons: {msg}', file=sys.stderr)
    sys.exit(2)


try:
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError
except ImportError as e:
    fail(f'Jupyter client missing ({e}); run `npm run setup` (installs python3-nbclient and jupyter-nbconvert).')


def stderr_of(cell):
    parts = []
    for out in cell.get('outputs', []):
        if out.get('output_type') == 'stream' and out.get('name') == 'stderr':
            parts.append(out.get('text', ''))
        elif out.get('output_type') == 'error':
            parts.append(f"{out.get('ename', '')}: {out.get('evalue', '')}\n" + '\n'.join(out.get('traceback', [])))
    return ''.join(parts).rstrip()


def write_atomic(nb, path):
    tmp = path + '.tmp'
    nbformat.write(nb, tmp)
    os.replace(tmp, path)


MAX_NOTEBOOK_BYTES = 200 * 1024 * 1024  # far above any lesson; a bigger "notebook" is not one


def check_notebook(path):
    """Fails with one line unless `path` is a regular file holding a Jupyter notebook (no traceback)."""
    if not os.path.exists(path):
        fail(f'no such notebook: {path}')
    if not os.path.isfile(path):
        kind = 'a directory' if os.path.isdir(path) else 'not a regular file'
        fail(f'{path} is {kind}, not a notebook (.ipynb)')
    size = os.path.getsize(path)
    if size > MAX_NOTEBOOK_BYTES:
        fail(f'{path} is {size} bytes, too large to be a lesson notebook')
    try:
        with open(path, 'rb') as f:
            nb = nbformat.reads(f.read().decode('utf-8'), as_version=4)
    except UnicodeDecodeError:
        fail(f'{path} is not a notebook: not UTF-8 text (a notebook is JSON)')
    except Exception as e:  # NotJSONError, a JSON object without notebook fields, a validation error
        reason = str(e).strip().splitlines()[0][:200] if str(e).strip() else type(e).__name__
        fail(f'{path} is not a Jupyter notebook ({type(e).__name__}: {reason})')
    if not isinstance(nb.get('cells'), list):
        fail(f"{path} is not a Jupyter notebook (no 'cells' list)")


def run_one(path, out_dir, timeout):
    nb = nbformat.read(path, as_version=4)
    failed = {}

    def on_cell_error(cell, cell_index, execute_reply):
        failed.setdefault('index', cell_index)

    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name=KERNEL,
        resources={'metadata': {'path': os.path.dirname(os.path.abspath(path))}},
        on_cell_error=on_cell_error,
    )
    started = time.time()
    error = None
    try:
        client.execute()
    except (CellExecutionError, CellTimeoutError) as e:
        error = e
    except Exception as e:  # kernel died, kernel spec missing, ...
        error = e
    finally:
        write_atomic(nb, os.path.join(out_dir, os.path.basename(path)))
    seconds = time.time() - started
    if error is None:
        print(f'ok    {os.path.relpath(path, ROOT)}  {seconds:.1f}s', flush=True)
        return True, seconds
    print(f'FAIL  {os.path.relpath(path, ROOT)}  {seconds:.1f}s', flush=True)
    index = failed.get('index')
    if index is None and isinstance(error, CellTimeoutError):
        index = next((i for i, c in enumerate(nb.cells) if c.cell_type == 'code' and c.get('execution_count') is None), None)
    if index is not None:
        cell = nb.cells[index]
        print(f'--- notebook: {os.path.relpath(path, ROOT)}, cell {index}', file=sys.stderr)
        print('--- cell source:', file=sys.stderr)
        print(cell.source, file=sys.stderr)
        print('--- cell stderr:', file=sys.stderr)
        print(stderr_of(cell) or f'(no stderr; {type(error).__name__}: {str(error).strip()[:2000]})', file=sys.stderr)
    else:
        print(f'--- notebook: {os.path.relpath(path, ROOT)}: {type(error).__name__}: {error}', file=sys.stderr)
    sys.stderr.flush()
    return False, seconds


def summary(paths, results, mode):
    """Each lesson's time, the total, and in standard mode a marked line for each lesson over the workshop limit."""
    lines = [f'lessons: times (LESSON_MODE={mode}; wall clock, so an upper bound when other jobs share the CPU)']
    for p, (ok, seconds) in zip(paths, results):
        mark = '' if ok else '  (failed)'
        lines.append(f'  {seconds:7.1f}s {seconds / 60:5.1f} min  {os.path.relpath(p, ROOT)}{mark}')
    total = sum(seconds for _, seconds in results)
    lines.append(f'  {total:7.1f}s {total / 60:5.1f} min  total')
    if mode == 'standard':
        for p, (_, seconds) in zip(paths, results):
            if seconds > STANDARD_LIMIT_S:
                lines.append(f'  OVER  {os.path.relpath(p, ROOT)} took {seconds:.0f}s, more than {STANDARD_LIMIT_S}s')
    return '\n'.join(lines)


def main():
    parser = argparse.ArgumentParser(description='Execute lesson notebooks with the course kernel.')
    parser.add_argument('notebooks', nargs='*', help='notebooks to run (default: notebooks/NN_*.ipynb in order)')
    parser.add_argument('--out', default=os.path.join(ROOT, 'build', 'lessons'))
    parser.add_argument('--timeout', type=int, default=3600, help='seconds per cell')
    args = parser.parse_args()

    mode = os.environ.get('LESSON_MODE', '') or 'standard'
    if mode not in MODES:
        fail(f"unknown LESSON_MODE '{mode}': use one of {', '.join(MODES)}.")
    os.environ['LESSON_MODE'] = mode
    jupyter_dir = os.path.join(ROOT, 'jupyter')
    os.environ['JUPYTER_PATH'] = os.pathsep.join(p for p in [jupyter_dir, os.environ.get('JUPYTER_PATH', '')] if p)
    if not os.path.exists(os.path.join(ROOT, 'node_modules', 'tslab', 'bin', 'tslab')):
        fail('tslab is not installed; run `npm run setup`.')

    paths = args.notebooks or sorted(glob.glob(os.path.join(ROOT, 'notebooks', '[0-9][0-9]_*.ipynb')))
    if not paths:
        fail('no notebooks found.')
    for p in paths:
        check_notebook(p)
    try:
        os.makedirs(args.out, exist_ok=True)
    except OSError as e:
        fail(f'cannot create {args.out}: {e.strerror}')

    print(f'lessons: {len(paths)} notebook(s), LESSON_MODE={mode}, executed copies in {os.path.relpath(args.out, ROOT)}/', flush=True)
    results = [run_one(p, args.out, args.timeout) for p in paths]
    print(summary(paths, results, mode), flush=True)
    failed = [ok for ok, _ in results].count(False)
    print(f'lessons: {len(results) - failed} passed, {failed} failed', flush=True)
    sys.exit(1 if failed else 0)


if __name__ == '__main__':
    main()
