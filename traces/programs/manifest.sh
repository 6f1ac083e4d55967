# manifest.sh: every bundled trace and how it is made; sourced by record-all.sh
# and update-readme.sh, so the README shows the commands that really ran.
#
# RECORDED: "name|program to keep|command". The command runs in traces/programs
# under `arena-trace record`; the trace kept is the one of the process running
# that program (its argv[0], without directories: a compile runs several
# processes). $WORK is a scratch directory. Hash seeds are fixed (and address
# randomisation is off) so that a recording made again gives the same ops.
RECORDED=(
    "python-json|python3|env PYTHONMALLOC=malloc PYTHONHASHSEED=0 /usr/bin/python3 python_json_dict.py"
    "python-threads|python3|env PYTHONMALLOC=malloc PYTHONHASHSEED=0 /usr/bin/python3 python_threads.py"
    "gxx-stl|cc1plus|g++ -std=c++17 -O1 -c stl_heavy.cpp -o \$WORK/stl_heavy.o"
    "sqlite|sqlite3|sqlite3 :memory: '.read sqlite_workload.sql'"
    "perl-text|perl|env PERL_HASH_SEED=0 PERL_PERTURB_KEYS=0 perl text_process.pl"
    "cmake-configure|cmake|cmake -S cmake-tiny -B \$WORK/cmake-tiny-build"
)

# GENERATED: workloads of `arena-trace gen`, bundled as gen-NAME.trace.gz with
# their default --ops and --seed 1.
GENERATED=(tiny small medium large powerlaw realloc-grow lifo fifo random phased threads)
