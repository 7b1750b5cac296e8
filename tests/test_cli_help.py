import subprocess
import sys


def test_help_runs_and_imports_nothing_heavy():
    code = (
        "import sys\n"
        "from commlb.cli.main import main\n"
        "try:\n"
        "    main(['--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = [m for m in ('numba', 'matplotlib', 'networkx', 'scipy') if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "Usage" in out.stdout
    assert "HEAVY []" in out.stdout


def test_unknown_command_exits_2():
    out = subprocess.run([sys.executable, "-m", "commlb.cli.main", "no-such-command"],
                         capture_output=True, text=True)
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
