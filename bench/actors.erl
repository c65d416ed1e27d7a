%% actors.erl — the BEAM side of `bench/run actors`: the same four
%% workloads as bench/actors.c, printed as beam_* key=value lines.
-module(actors).
-export([main/0, crasher_start/0, restarts/1, otp_restarts/1]).

now_ns() -> erlang:monotonic_time(nanosecond).

idle() -> receive stop -> ok end.

spawn_bench(N) ->
    erlang:garbage_collect(),
    M0 = erlang:memory(total),
    T0 = now_ns(),
    Pids = [spawn(fun idle/0) || _ <- lists:seq(1, N)],
    T1 = now_ns(),
    M1 = erlang:memory(total),
    [P ! stop || P <- Pids],
    %% the list of pids holds 2 words per process: not the process's own cost
    {(M1 - M0) div N - 16, (T1 - T0) / 1000 / N}.

pong() -> receive {From, ping} -> From ! pong, pong(); stop -> ok end.
ping(_, 0) -> ok;
ping(Pong, N) -> Pong ! {self(), ping}, receive pong -> ping(Pong, N - 1) end.

pingpong(N) ->
    Pong = spawn(fun pong/0),
    T0 = now_ns(),
    ping(Pong, N),
    T1 = now_ns(),
    Pong ! stop,
    (T1 - T0) / N.

sink(0, Parent) -> Parent ! done;
sink(N, Parent) -> receive _ -> sink(N - 1, Parent) end.
sender(_, 0) -> ok;
sender(To, N) -> To ! x, sender(To, N - 1).

fanin(Senders, Each) ->
    Self = self(),
    Sink = spawn(fun() -> sink(Senders * Each, Self) end),
    T0 = now_ns(),
    [spawn(fun() -> sender(Sink, Each) end) || _ <- lists:seq(1, Senders)],
    receive done -> ok end,
    T1 = now_ns(),
    Senders * Each / ((T1 - T0) / 1.0e9).

%% A child that crashes as soon as it starts, until it has been started
%% N times; then it stays up and says so.
crasher_start() ->
    Ref = persistent_term:get(restart_counter),
    Goal = persistent_term:get(restart_goal),
    Count = atomics:add_get(Ref, 1, 1),
    Pid = case Count > Goal of
              true -> spawn_link(fun() -> bench ! restarted, receive stop -> ok end end);
              false -> spawn_link(fun() -> exit(crash) end)
          end,
    {ok, Pid}.

%% The supervisor's own loop: trap exits, restart on each crash. This is
%% what a supervisor does per restart, without OTP's intensity bookkeeping,
%% which keeps every restart of the period in a list and so costs O(R) per
%% restart (measured separately below, on fewer restarts).
loop_sup(0, Parent) -> Parent ! done;
loop_sup(N, Parent) ->
    spawn_link(fun() -> exit(crash) end),
    receive {'EXIT', _, _} -> loop_sup(N - 1, Parent) end.

restarts(N) ->
    Self = self(),
    T0 = now_ns(),
    spawn(fun() -> process_flag(trap_exit, true), loop_sup(N, Self) end),
    receive done -> ok end,
    T1 = now_ns(),
    (T1 - T0) / 1000 / N.

otp_restarts(N) ->
    persistent_term:put(restart_counter, atomics:new(1, [])),
    persistent_term:put(restart_goal, N),
    register(bench, self()),
    Spec = {{one_for_one, N * 10, 3600},
            [{crasher, {actors, crasher_start, []}, permanent, brutal_kill, worker, [actors]}]},
    T0 = now_ns(),
    {ok, Sup} = supervisor:start_link(sup_cb, Spec),
    receive restarted -> ok end,
    T1 = now_ns(),
    unlink(Sup),
    exit(Sup, shutdown),
    (T1 - T0) / 1000 / N.

main() ->
    %% Crash reports would be most of the restart benchmark's cost.
    logger:set_primary_config(level, none),
    {Bytes, SpawnUs} = spawn_bench(1000000),
    io:format("beam_bytes_per_actor=~b~nbeam_spawn_us=~.3f~n", [Bytes, SpawnUs]),
    io:format("beam_pingpong_ns=~.1f~n", [pingpong(1000000)]),
    io:format("beam_fanin_msgs_per_s=~.1f~n", [fanin(4, 1000000)]),
    io:format("beam_restart_us=~.2f~n", [restarts(100000)]),
    io:format("beam_otp_supervisor_restart_us=~.2f~n", [otp_restarts(10000)]),
    halt().
