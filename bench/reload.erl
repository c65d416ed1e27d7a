%% reload.erl — the reference for `bench/run skills`: Erlang's hot code
%% load of a module while two processes call it without pause. 1,000
%% loads (two versions, alternately; the old code soft-purged first, as
%% a release handler does): the mean time per load, the longest call a
%% caller saw, and calls that failed.
-module(reload).
-export([main/0]).

forms(V) ->
    [{attribute, 1, module, bench_skill},
     {attribute, 2, export, [{add, 0}]},
     {function, 3, add, 0, [{clause, 3, [], [], [{atom, 3, V}]}]}].

caller(Parent, Max, N, Failed) ->
    receive stop -> Parent ! {done, Max, N, Failed}
    after 0 ->
        T0 = erlang:monotonic_time(nanosecond),
        R = try bench_skill:add() catch _:_ -> failed end,
        Us = (erlang:monotonic_time(nanosecond) - T0) / 1000,
        caller(Parent, max(Max, Us), N + 1, Failed + case R of failed -> 1; _ -> 0 end)
    end.

load(Bin) ->
    code:soft_purge(bench_skill),
    {module, bench_skill} = code:load_binary(bench_skill, "bench_skill.erl", Bin).

main() ->
    {ok, _, B1} = compile:forms(forms(v1), [binary]),
    {ok, _, B2} = compile:forms(forms(v2), [binary]),
    load(B1),
    Self = self(),
    Callers = [spawn(fun() -> caller(Self, 0, 0, 0) end) || _ <- [1, 2]],
    T0 = erlang:monotonic_time(nanosecond),
    lists:foreach(fun(I) -> load(case I rem 2 of 0 -> B1; 1 -> B2 end) end, lists:seq(1, 1000)),
    T1 = erlang:monotonic_time(nanosecond),
    [C ! stop || C <- Callers],
    Results = [receive {done, M, N, F} -> {M, N, F} end || _ <- Callers],
    io:format("beam_reload_us=~.1f~n", [(T1 - T0) / 1000 / 1000]),
    io:format("beam_max_pause_us=~.1f~n", [lists:max([M || {M, _, _} <- Results])]),
    io:format("beam_calls=~b~nbeam_failed_calls=~b~n",
              [lists:sum([N || {_, N, _} <- Results]), lists:sum([F || {_, _, F} <- Results])]),
    halt(0).
