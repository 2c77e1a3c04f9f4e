"""Instance generators: validity, d1 spread, chains and chain prefixes, jit/vmap, the documented distributions."""

from __future__ import annotations

import itertools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from do1rl.core import circuit_file, random_bits
from do1rl.core.biregular import LayeredBiregular
from do1rl.core.circuit import AND, INPUT_0, INPUT_1, OR, PAD
from do1rl.core.generators import Chains, RandomAlternating, chain
from do1rl.core.reference import circuit_to_lists, evaluate
from do1rl.core.solver import solve


@pytest.fixture(scope="session")
def solve_batch():
    return jax.jit(jax.vmap(solve))


def sample(gen, count, seed=0):
    keys = jax.random.split(jax.random.key(seed), count)
    return jax.jit(jax.vmap(gen))(keys)


def row(batch, i):
    return jax.tree.map(lambda x: x[i], batch)


def test_default_d1_is_spread(solve_batch):
    gen = RandomAlternating(depth=16)
    d1 = np.asarray(solve_batch(sample(gen, 2000)).d1)
    counts = np.bincount(d1, minlength=gen.max_depth + 1)
    assert counts.max() <= 0.25 * len(d1), counts
    assert d1.max() <= gen.max_depth


CONFIGS = [
    RandomAlternating(),
    RandomAlternating(n_inputs=3, depth=7, width=5, max_fanin=2),
    RandomAlternating(n_inputs=4, depth=9, width=3, max_fanin=4, skip_prob=1.0, input_prob=0.0),
    RandomAlternating(n_inputs=4, depth=6, width=4, max_fanin=3, prefix_chain=5, p_one=0.8),
    RandomAlternating(n_inputs=1, depth=2, width=1, max_fanin=2, prefix_chain=1),
]


@pytest.mark.parametrize("gen", CONFIGS, ids=lambda g: f"d{g.depth}w{g.width}f{g.max_fanin}L{g.prefix_chain}")
def test_generated_circuits_are_valid(solve_batch, gen):
    count = 40
    batch = jax.device_get(sample(gen, count, seed=1))
    sol = jax.device_get(solve_batch(batch))
    assert batch.node_type.shape == (count, gen.num_nodes)
    assert batch.fanin.shape == (count, gen.num_nodes, gen.fanin_slots)
    for i in range(count):
        c = row(batch, i)
        obj = circuit_file.to_json(c)  # validates: alternation, no cycle, ...
        parsed = circuit_file.parse(obj)
        inputs, ops, fanins, new_id = circuit_to_lists(c.node_type, c.fanin)
        assert tuple(parsed) == (inputs, ops, fanins)
        value, depth, d1 = evaluate(inputs, ops, fanins)
        slots = sorted(new_id)
        assert [depth[new_id[s]] for s in slots] == c.depth[slots].tolist()  # stored depths are right
        assert [value[new_id[s]] for s in slots] == sol.value[i][slots].tolist()
        assert int(sol.d1[i]) == d1
        assert max(depth) <= gen.max_depth
        assert len(ops) <= gen.max_gates


def test_chain(solve_batch):
    K = 12
    lengths = jnp.arange(1, K + 1)
    chains = jax.device_get(jax.jit(jax.vmap(chain, in_axes=(0, None)), static_argnums=1)(lengths, K))
    sol = jax.device_get(solve_batch(chains))
    for k in range(1, K + 1):
        c, i = row(chains, k - 1), k - 1
        assert int(sol.d1[i]) == k
        assert c.node_type[0] == INPUT_1
        want_types = [OR if g % 2 == 1 else AND for g in range(1, k + 1)] + [PAD] * (K - k)
        assert c.node_type[1:].tolist() == want_types  # OR first, alternating
        assert c.depth[1 : k + 1].tolist() == list(range(1, k + 1))  # gate g has depth g
        assert sol.value[i][: k + 1].all() and not sol.value[i][k + 1 :].any()
        inputs, ops, fanins, _ = circuit_to_lists(c.node_type, c.fanin)
        assert evaluate(inputs, ops, fanins)[2] == k
        circuit_file.to_json(c)
    fixed = jax.device_get(sample(Chains(max_length=K, length=5), 4))
    assert (np.asarray(solve_batch(fixed).d1) == 5).all()
    random = np.asarray(solve_batch(sample(Chains(max_length=K), 200)).d1)
    assert random.min() >= 1 and random.max() <= K and len(set(random.tolist())) > K // 2


def strip_chain(inputs, ops, fanins, n, length):
    """C from C': drop input n, chain gates 0..L-1 and every read of the chain top."""
    top = n + 1 + length - 1  # node id of the chain's top gate
    keep = list(range(length, len(ops)))
    new_id = {i: i for i in range(n)}
    for k, g in enumerate(keep):
        new_id[n + 1 + g] = n + k
    fanins_c = []
    for g in keep:
        reads = [s for s in fanins[g] if s != top]
        assert all(s in new_id for s in reads)  # C reads nothing else of the chain
        fanins_c.append([new_id[s] for s in reads])
    return inputs[:n], [ops[g] for g in keep], fanins_c


@pytest.mark.parametrize("length", [1, 2, 5])
def test_chain_prefix_relation(length):
    gen = RandomAlternating(n_inputs=4, depth=6, width=3, max_fanin=3, prefix_chain=length)
    n = gen.n_inputs
    batch = jax.device_get(sample(gen, 60, seed=length))
    seen_positive = False
    for i in range(60):
        c = row(batch, i)
        inputs, ops, fanins, _ = circuit_to_lists(c.node_type, c.fanin)
        # The chain: input n with bit 1, gates 0..L-1 alternating, ending in an OR at its top.
        assert inputs[n] == 1 and len(inputs) == n + 1
        assert ops[:length] == ["OR" if (length - g) % 2 == 1 else "AND" for g in range(length)]
        assert fanins[0] == [n] and all(fanins[g] == [n + g] for g in range(1, length))
        value_p, depth_p, d1_p = evaluate(inputs, ops, fanins)
        inputs_c, ops_c, fanins_c = strip_chain(inputs, ops, fanins, n, length)
        value_c, depth_c, d1_c = evaluate(inputs_c, ops_c, fanins_c)
        assert d1_p == (length + d1_c if d1_c >= 1 else length)
        m_c = len(ops_c)
        # Every gate of C: depth grew by exactly L, value unchanged.
        assert [depth_p[n + 1 + length + g] for g in range(m_c)] == [d + length for d in depth_c[n:]]
        assert [value_p[n + 1 + length + g] for g in range(m_c)] == value_c[n:]
        # The gates of C that read only inputs are AND gates and read the chain top in C'.
        top = n + length
        for g in range(m_c):
            if all(s < n for s in fanins_c[g]):
                assert ops_c[g] == "AND" and top in fanins[length + g]
        seen_positive |= d1_c >= 1
    assert seen_positive


def test_generators_jit_and_vmap():
    keys = jax.random.split(jax.random.key(5), 3)
    for gen in (RandomAlternating(n_inputs=3, depth=4, width=3, prefix_chain=2), Chains(max_length=6)):
        batched = sample(gen, 3, seed=5)
        jitted = jax.jit(gen)
        for i, key in enumerate(keys):
            chex.assert_trees_all_equal(jitted(key), row(batched, i))
    # Static sizes are part of the pytree structure, so a generator passes through jit.
    gen = RandomAlternating(n_inputs=2, depth=3, width=2)
    make = jax.jit(lambda g, k: g(k))
    chex.assert_trees_all_equal(make(gen, keys[1]), jax.jit(gen)(keys[1]))


# ----- one draw of random words: the rules and the distributions they give ------------------
def test_random_bits_rules_are_jax_random_rules():
    key = jax.random.key(3)
    shape = (4000,)
    words = jax.random.bits(key, shape, jnp.uint32)
    assert (random_bits.uniform(words) == jax.random.uniform(key, shape)).all()
    assert (random_bits.bernoulli(words, 0.3) == jax.random.bernoulli(key, 0.3, shape)).all()
    high_key, low_key = jax.random.split(key)  # jax.random.randint's own split
    pairs = jnp.stack([jax.random.bits(high_key, shape, jnp.uint32), jax.random.bits(low_key, shape, jnp.uint32)], -1)
    for span in (1, 2, 7, 12, 1000):
        assert (random_bits.randint(pairs, span) == jax.random.randint(key, shape, 0, span)).all(), span
    for n in (2, 5, 40):
        _, sort_key = jax.random.split(key)  # jax.random.permutation's one round
        assert random_bits.permutation_rounds(n) == 1
        sort_words = jax.random.bits(sort_key, (1, n), jnp.uint32)
        assert (random_bits.permutations(sort_words) == jax.random.permutation(key, n)).all(), n


def assert_rate(hits, trials, p):
    """`hits` of `trials` is within 5 standard deviations of a Binomial(trials, p)."""
    hits, trials = int(np.sum(hits)), int(trials)
    assert abs(hits - trials * p) <= 5 * np.sqrt(trials * p * (1 - p)) + 1e-9, (hits, trials, p)


def assert_uniform(values, k):
    """`values` look uniform over 0..k-1 (chi-square p-value > 1e-6)."""
    counts = np.bincount(np.asarray(values).ravel(), minlength=k)
    assert len(counts) == k, counts
    assert stats.chisquare(counts).pvalue > 1e-6, counts


def test_random_alternating_distribution_is_the_documented_one():
    """Each random choice of docs/generators.md, counted over 4000 circuits."""
    n, depth, width = 7, 9, 5
    gen = RandomAlternating(n_inputs=n, depth=depth, width=width, max_fanin=4, p_one=0.3, skip_prob=0.3, input_prob=0.6)
    count = 4000
    batch = jax.device_get(sample(gen, count, seed=11))
    node_type, fanin = np.asarray(batch.node_type), np.asarray(batch.fanin)
    assert_rate(node_type[:, :n] == INPUT_1, count * n, 0.3)  # input bits
    gates = fanin[:, n:]  # [count, depth * width, 4]: three gate reads, then the AND input read
    layer = np.repeat(np.arange(1, depth + 1), width)
    is_and = node_type[:, n:] == AND
    assert_rate(is_and[:, 0], count, 0.5)  # layer 1's kind
    target_layer = np.where(gates[..., :3] >= n, (gates[..., :3] - n) // width + 1, 0)  # 0: an input
    position = (gates[..., :3] - n) % width

    first, upper = layer == 1, layer > 1
    assert (gates[:, first, :3] < n).all() and (gates[:, first, 0] >= 0).all()  # layer 1 reads inputs
    assert_uniform(gates[:, first, :3][gates[:, first, :3] >= 0], n)
    assert (target_layer[:, upper, 0] == layer[upper] - 1).all()  # slot 0 reads layer l - 1
    assert_uniform(position[:, upper, 0], width)
    used = gates[..., 1:3] >= 0
    assert_rate(used, used.size, 0.5)  # each further read is used with probability 1/2

    # A used further read of a layer >= 4 gate skips with probability skip_prob, to l - 3 - 2j, j uniform.
    free_layer = np.broadcast_to(layer[None, :, None], used.shape)
    free_target = target_layer[..., 1:3]
    assert (free_target[used & (free_layer > 1) & (free_layer < 4)] == free_layer[used & (free_layer > 1) & (free_layer < 4)] - 1).all()
    can_skip = used & (free_layer >= 4)
    skips = free_target[can_skip] < free_layer[can_skip] - 1
    assert_rate(skips, skips.size, 0.3)
    for top in (8, 9):
        here = used & (free_layer == top) & (free_target < top - 1)
        assert_uniform((top - 3 - free_target[here]) // 2, (top - 2) // 2)
    assert_uniform(position[..., 1:3][used & (free_layer > 1)], width)

    # AND gates above layer 1 read one more input with probability input_prob, uniform over the inputs.
    extra = gates[..., 3]
    assert (extra[:, first] == -1).all() and (extra[~is_and] == -1).all()
    and_upper = is_and & upper[None]
    assert_rate(extra[and_upper] >= 0, and_upper.sum(), 0.6)
    assert_uniform(extra[and_upper & (extra >= 0)], n)


def test_biregular_distribution_is_the_documented_one():
    """Input bits Bernoulli(p_one), layer 1's kind fair, each layer's k permutations uniform and independent."""
    width, depth, k = 3, 4, 2
    gen = LayeredBiregular(width=width, depth=depth, k=k, p_one=0.6, stratify_d1=False)
    count = 3000
    batch = jax.device_get(sample(gen, count, seed=12))
    node_type, fanin = np.asarray(batch.node_type), np.asarray(batch.fanin)
    assert_rate(node_type[:, :width] == INPUT_1, count * width, 0.6)
    assert_rate(node_type[:, width] == AND, count, 0.5)
    # Slot j of layer l's gates, read in gate order, is permutation j of layer l - 1.
    reads = fanin[:, width:].reshape(count, depth, width, k) % width
    perms = np.moveaxis(reads, 3, 2)  # [count, depth, k, width]
    index = {p: i for i, p in enumerate(itertools.permutations(range(width)))}
    perm_id = np.vectorize(lambda *p: index[p])(*np.moveaxis(perms, -1, 0))  # [count, depth, k]
    assert_uniform(perm_id, len(index))
    assert_uniform(perm_id[..., 0] * len(index) + perm_id[..., 1], len(index) ** 2)  # the k = 2 are independent


@pytest.mark.parametrize(
    "cls, kwargs, needle",
    [
        (RandomAlternating, {"p_one": 2.0}, "p_one must be a probability in [0, 1], got 2.0"),
        (RandomAlternating, {"p_one": -1.0}, "p_one must be a probability"),
        (RandomAlternating, {"p_one": float("nan")}, "p_one must be a probability"),
        (RandomAlternating, {"skip_prob": "0.1"}, "skip_prob must be a probability"),
        (RandomAlternating, {"depth": 0}, "depth must be an integer in 1.."),
        (RandomAlternating, {"depth": 2.5}, "depth must be an integer in 1.."),
        (RandomAlternating, {"width": 0}, "width must be an integer in 1.."),
        (RandomAlternating, {"max_fanin": 1}, "max_fanin must be an integer in 2.."),
        (LayeredBiregular, {"k": 0}, "k must be an integer in 1.."),
        (LayeredBiregular, {"p_one": 1.5, "stratify_d1": False}, "p_one must be a probability"),
        (RandomAlternating, {"p_one": None}, "p_one must be a probability in [0, 1], got None"),
        (LayeredBiregular, {"p_one": None, "stratify_d1": False}, "p_one must be a probability in [0, 1], got None"),
        (RandomAlternating, {"skip_prob": True}, "skip_prob must be a probability in [0, 1], got True"),
        (RandomAlternating, {"input_prob": [0.5]}, "input_prob must be a probability in [0, 1], got [0.5]"),
    ],
)
def test_constructors_apply_the_rules_of_make(cls, kwargs, needle):
    """The JAX-API generators refuse what `make` refuses, with the same words (`checks.argument_problem`)."""
    from do1rl.envs.make import EnvArgumentError, make

    with pytest.raises(ValueError) as err:
        cls(**kwargs)
    assert needle in str(err.value) and str(err.value).startswith(cls.__name__)
    family = {"family": "biregular"} if cls is LayeredBiregular else {}
    with pytest.raises(EnvArgumentError) as made:
        make("do1rl/DO1-v0", **family, **kwargs)
    assert needle in str(made.value)


def test_traced_probabilities_are_not_checked():
    draw = jax.vmap(lambda p: RandomAlternating(n_inputs=3, depth=3, width=3, p_one=p)(jax.random.key(0)).node_type)
    assert draw(jnp.array([0.2, 0.7])).shape[0] == 2


_NOT_ONE_NUMBER = [
    None,
    "0.5",
    True,
    np.bool_(False),
    [0.5],
    (0.5,),
    {"p": 0.5},
    object(),
    0.5j,
    np.array([0.2, 0.7]),
    jnp.array([0.2, 0.7]),
    np.zeros((1, 1)),
    np.array(True),
    np.array("0.5"),
]


@pytest.mark.parametrize("family", ["random", "biregular"])
@pytest.mark.parametrize("value", _NOT_ONE_NUMBER, ids=lambda v: type(v).__name__ + str(np.shape(v) if hasattr(v, "shape") else ""))
def test_every_family_refuses_a_probability_that_is_not_one_number(family, value):
    """Attack battery: RandomAlternating(p_one=None) was accepted, then failed deep inside JAX at reset.

    Every registered family's constructor refuses None, non-numbers and arrays of several values in one line.
    """
    from do1rl.core.checks import PROBABILITIES
    from do1rl.core.families import CIRCUIT_FAMILIES

    spec = CIRCUIT_FAMILIES[family]
    probabilities = [k for k in spec.keywords if k in PROBABILITIES]
    assert probabilities
    base = {"stratify_d1": False} if "stratify_d1" in spec.keywords else {}
    for key in probabilities:
        with pytest.raises(ValueError) as err:
            spec.build(**base, **{key: value})
        line = str(err.value)
        assert line.startswith(f"{spec.generator.__name__}: {key} must be a probability in [0, 1]"), line
        assert "\n" not in line and len(line) < 200


@pytest.mark.parametrize("family", ["random", "biregular"])
def test_one_number_in_any_form_is_a_probability(family):
    """Python and NumPy scalars and 0-d arrays (NumPy or JAX, float or int) are accepted, out-of-range ones refused."""
    from do1rl.core.families import CIRCUIT_FAMILIES

    spec = CIRCUIT_FAMILIES[family]
    base = {"stratify_d1": False} if "stratify_d1" in spec.keywords else {}
    for value in (0, 1, 0.3, np.float32(0.3), np.int64(1), np.array(0.3), jnp.array(0.3), jnp.array(1, jnp.int32)):
        assert spec.build(**base, p_one=value).p_one is value
    for value in (np.array(1.5), jnp.array(-0.1), jnp.array(jnp.nan), np.float32(np.inf)):
        with pytest.raises(ValueError, match="p_one must be a probability in"):
            spec.build(**base, p_one=value)


def test_generators_still_trace_vmap_and_rebuild():
    """The full rule applies to callers only: jit, vmap (in and out), grad, tree maps and in_axes trees rebuild freely."""
    gen = RandomAlternating(n_inputs=3, depth=3, width=3)
    key = jax.random.key(0)
    assert jax.jit(lambda g: g(key).node_type)(gen).shape == (12,)
    batch = jax.vmap(lambda p: gen.replace(p_one=p))(jnp.array([0.0, 1.0]))  # a batch of generators, p_one [2]
    assert batch.p_one.shape == (2,) and batch.depth == 3
    bits = jax.jit(jax.vmap(lambda g: g(key).node_type))(batch)[:, :3]
    assert (np.asarray(bits)[0] == INPUT_0).all() and (np.asarray(bits)[1] == INPUT_1).all()
    spec = jax.tree.map(lambda _: None, gen)  # an in_axes tree of None leaves: no constructor call, no check
    assert jax.vmap(lambda g, k: g(k).node_type, in_axes=(spec, 0))(gen, jax.random.split(key, 2)).shape == (2, 12)
    grads = jax.grad(lambda g: jnp.sum(g.p_one * g.skip_prob))(gen)
    assert float(grads.p_one) == pytest.approx(gen.skip_prob)
    with pytest.raises(ValueError, match="one number"):
        RandomAlternating(p_one=np.asarray(batch.p_one))  # a batch is built under vmap, not passed as an array


def test_a_plain_struct_generator_lets_placeholders_through():
    """A family written as a plain `flax.struct` dataclass is rebuilt through its constructor: placeholders pass."""
    from flax import struct

    from do1rl.core import checks

    @struct.dataclass
    class Plain:
        p_one: float = 0.5

        def __post_init__(self):
            checks.check_generator(self)

    leaves, tree = jax.tree.flatten(Plain())
    for placeholder in (None, object(), True, np.array([0.1, 0.2])):
        assert jax.tree.unflatten(tree, [placeholder] * len(leaves)).p_one is placeholder
    with pytest.raises(ValueError, match="Plain: p_one must be a probability"):
        Plain(p_one=2.0)


def test_a_plain_struct_subclass_of_a_strict_generator_lets_placeholders_through():
    """Its constructor is what jax rebuilds it with (`jit(...).lower` passes ArgInfo leaves): the lenient rule."""
    from flax import struct

    @struct.dataclass
    class Subclass(RandomAlternating):
        pass

    gen = Subclass(n_inputs=2, depth=2, width=2)
    leaves, tree = jax.tree.flatten(gen)
    assert jax.tree.unflatten(tree, [None] * len(leaves)).p_one is None
    jax.jit(lambda g, key: g(key).node_type).lower(gen, jax.random.key(0))
    with pytest.raises(ValueError, match="Subclass: p_one must be a probability"):
        Subclass(p_one=2.0)


def test_pytree_placeholders_are_not_checked():
    """jax rebuilds generators with placeholder leaves (custom_vmap's batched trees hold bools)."""
    gen = RandomAlternating(n_inputs=3, depth=3, width=3)
    leaves, tree = jax.tree.flatten(gen)
    for placeholder in (False, True, None, object()):
        assert jax.tree.unflatten(tree, [placeholder] * len(leaves)).depth == 3


def test_a_string_flag_is_refused_not_taken_as_true():
    """Attack battery #10: LayeredBiregular(stratify_d1="no") built stratified circuits; DO1(stop_action="x") had STOP."""
    from do1rl.core.biregular import LayeredBiregular
    from do1rl.envs import DO1

    with pytest.raises(ValueError, match="stratify_d1 must be true or false, got 'no'"):
        LayeredBiregular(stratify_d1="no")
    with pytest.raises(ValueError, match="stop_action must be true or false"):
        DO1(stop_action="x")
