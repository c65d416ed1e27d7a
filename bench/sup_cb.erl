%% sup_cb.erl — the supervisor callback module bench/actors.erl uses.
-module(sup_cb).
-behaviour(supervisor).
-export([init/1]).
init(Spec) -> {ok, Spec}.
