"""Documentation shared by the recommenders, written once.

A class docstring names a shared block on a line of its own, ``{item_ids}``,
indented as the block should be; :func:`fill_doc` replaces the line with the
block.  Only whole-line names are replaced, so numpydoc type specs such as
``{array-like, sparse matrix}`` are left alone.
"""

import re
import textwrap

_BLOCKS = {
    # ---------------------------------------------------------- parameters
    "semantic": """\
semantic : estimator or Pipeline, default=None
    Phase 1, fitted (as a clone) on ``item_texts`` or ``item_embeddings``;
    its last step must expose ``coef_`` of shape (n_items, n_items), the
    semantic correlation ``C``.  ``None`` picks
    ``make_pipeline(SentenceEncoder(), SemanticCorrelation())`` for texts
    and ``SemanticCorrelation()`` for embeddings.  Pass it explicitly to
    tune its parameters (``semantic__...``) in a search.""",
    "item_texts": """\
item_texts : sequence of str, default=None
    One text per item column of ``X``.""",
    "item_embeddings": """\
item_embeddings : array-like of shape (n_items, d), default=None
    One embedding per item column of ``X``.""",
    "item_ids": """\
item_ids : array-like of shape (n_items,), default=None
    One label (str or int, unique) per item column of ``X``: the items that
    :meth:`predict`, :meth:`recommend` (and the item-item models'
    ``similar_items`` and ``explain``) take and return.  ``None`` uses the
    column names of a DataFrame ``X``, if any, else column indices.""",
    "top_k": """\
top_k : int, default=20
    Number of items returned by :meth:`predict` and ranked by :meth:`score`.""",
    "dtype": """\
dtype : {np.float32, np.float64}, default=np.float32
    Precision of the fit and of the scores.""",
    "batch_size": """\
batch_size : int, default=None
    Users scored per batch by ``predict``, ``recommend``,
    ``decision_function``, the ranking scorers and ``evaluate``; ``None``
    picks about 64 MiB of scores per batch.  Memory stays bounded for any
    number of users (``decision_function`` still returns all their scores).""",
    "memory_limit": """\
memory_limit : "auto", int or None, default="auto"
    Memory budget in bytes, checked before fitting and scoring: beyond it a
    :class:`~sklearn_l3ae.MemoryLimitError` says so before anything is
    allocated.  ``"auto"`` is the memory available at that moment (the
    kernel's ``MemAvailable`` and the cgroup limits); ``None`` skips the
    check.""",
    "memory_limit_scoring": """\
memory_limit : "auto", int or None, default="auto"
    Memory budget in bytes, checked before scoring: beyond it a
    :class:`~sklearn_l3ae.MemoryLimitError` says so before anything is
    allocated.  ``"auto"`` is the memory available at that moment (the
    kernel's ``MemAvailable`` and the cgroup limits); ``None`` skips the
    check.""",
    "keep_inverse": """\
keep_inverse : bool, default=False
    Keep what exact incremental updates need: the inverse ``P = (XᵀX +
    Λ)⁻¹`` the weights come from (one more dense n_items x n_items array,
    counted by the memory plan and stored by :func:`~sklearn_l3ae.save`) and
    the training interactions (sparse).  Then :meth:`partial_fit` takes new
    users or interactions and :meth:`add_items` new items in O(n_items²·r)
    instead of a refit.  With ``n_neighbors`` there is no inverse: the
    supports are kept, and :meth:`partial_fit` solves again the columns
    that hold a changed item.  With ``device``, ``P`` comes back to the
    host and updates run there.  See :doc:`/incremental`.""",
    "n_neighbors": """\
n_neighbors : int, default=None
    Largest support of a column of ``B``: column ``j`` may use at most
    ``n_neighbors`` other items: three quarters are its strongest
    co-occurrence neighbours (largest cosine of the item columns of ``X``),
    the last quarter the items whose absence costs its objective most
    after a first solve on those (its KKT violators); it is solved exactly
    on that support (SPEC §7).  Memory is O(n_items·n_neighbors) instead
    of n_items², and ``coef_`` a sparse CSR array.  ``None`` is the exact
    dense fit; with ``n_neighbors >= n_items − 1`` the supports hold every
    other item and the fit equals it.  See :ref:`n_neighbors`.""",
    "n_neighbors_semantic": """\
n_neighbors : int, default=None
    Largest support of a column of ``B``: column ``j`` may use at most
    ``n_neighbors`` other items: three quarters are its strongest
    co-occurrence neighbours (largest cosine of the item columns of ``X``)
    joined with its strongest semantic neighbours (largest ``|C[i, j]|``),
    the last quarter the items whose absence costs its objective most
    after a first solve on those (its KKT violators); it is solved exactly
    on that support (SPEC §7).  Memory is O(n_items·n_neighbors) instead of
    n_items² (``C`` is never formed), and ``coef_`` a sparse CSR array.
    ``None`` is the exact dense fit; with ``n_neighbors >= n_items − 1``
    the supports hold every other item and the fit equals it.  See
    :ref:`n_neighbors`.""",
    "semantic_share": """\
semantic_share : float in [0, 1], default=0.0
    With ``n_neighbors``: the share of each support's listed places (the
    three quarters not left to the KKT violators) given to semantic
    neighbours, the rest to co-occurrence neighbours.  A side with fewer
    candidates than its places leaves them to the other, so an item with
    fewer co-occurrences than places fills them with semantic neighbours,
    and one without interactions gets semantic neighbours only.  0 (the
    semantic side entering through ``C``'s values, the KKT violators and
    these fills) is the best or within 0.6 % of the best NDCG@20 on every
    shared dataset (``benchmarks/results/large.md``).""",
    "neighbor_search": """\
neighbor_search : {"auto", "exact", "faiss"}, default="auto"
    With ``n_neighbors``: how the semantic neighbours are found.
    ``"exact"`` computes every ``|C[i, j]|``, in blocks of columns
    (O(n_items²·d) work, no n_items² memory); ``"faiss"`` searches an
    approximate inverted-file index of ``faiss-cpu`` (the ``faiss``
    extra), its probes raised until a sample of columns reaches 95 %
    recall against the exact search; ``"auto"`` is exact up to 50 000
    items and faiss beyond, when it is installed.""",
    "n_jobs": """\
n_jobs : int, default=None
    Parallel jobs (joblib; ``None`` means 1 unless in a
    :func:`joblib.parallel_backend` context, ``-1`` all workers) over blocks
    of users when scoring (``predict``, ``recommend``, the scorers,
    ``evaluate``) and, with ``n_neighbors``, over blocks of columns of the
    fit and of its semantic search.  Any joblib backend runs them, e.g.
    ``parallel_backend("dask")`` on a cluster (:doc:`/distributed`).  The
    result is the same for any value.  The dense fit is unaffected (its
    BLAS is multithreaded).""",
    "device": """\
device : str, torch.device or None, default=None
    Where the dense fit and scoring run.  ``None`` is NumPy/SciPy on the
    host; ``"cpu"``, ``"cuda"``, ``"cuda:1"`` or a :class:`torch.device`
    runs the factorization and the closed form in PyTorch on that device
    (the Gram matrix of a sparse ``X`` is formed on the host and moved
    there), in the precision of ``dtype``, and scores users there in
    batches.  Fitted attributes stay NumPy arrays.  Not combinable with
    ``n_neighbors``.  See :doc:`/device`.""",
    "dan": """\
user_norm : float >= 0, default=0.0
    DAN's user normalization β (Park et al., SIGIR 2025): each user's row
    weighs ``|x_u|^(−β)`` in the Gram matrix, ``G = Xᵀ diagMat(|x_u|^(−β))
    X`` (``|x_u|``: the row's sum), so heavy users dominate less.  With
    ``dropout``, the penalty keeps the raw item counts.  0 is off.
item_norm : float >= 0, default=0.0
    DAN's item normalization α: the learned weights become ``W =
    diagMat(c^α) B diagMat(c^(−α))`` with ``c`` the items' interaction
    counts in the training matrix (an item without any counts as 1), then
    ``diag(W) = 0``: weights towards popular items shrink, towards rare
    ones grow.  0 is off.""",
    # ---------------------------------------------------------- attributes
    "incremental_attributes": """\
inverse_ : ndarray of shape (n_items, n_items)
    With ``keep_inverse``: ``P = (XᵀX + Λ)⁻¹`` of every interaction seen.
interactions_ : csr_array of shape (`n_samples_seen_`, n_items)
    With ``keep_inverse``: the training interactions, rows in the order
    fitted and added (:meth:`partial_fit`'s ``users`` index them).
inverse_residual_, factorization_residual_ : float
    With ``keep_inverse``: the measured relative residual of ``inverse_``
    now and right after its last factorization.
supports_ : ndarray of shape (n_items, n_neighbors)
    With ``keep_inverse`` and ``n_neighbors``: each column's support
    ``S_j`` (``-1`` padded), instead of ``inverse_`` and the residuals.
n_updates_ : int
    With ``keep_inverse``: updates since the last factorization.""",
    "semantic_": """\
semantic_ : estimator or None
    The fitted clone of ``semantic`` (``None`` without item data).""",
    "recommender_attributes": """\
item_popularity_ : ndarray of shape (n_items,)
    Number of training users who interacted with each item (used by the
    head/tail scorers and novelty).
n_samples_seen_ : int
    Number of training users (rows of ``X``; used by novelty).
item_ids_ : ndarray of shape (n_items,) or None
    The item labels: ``item_ids``, else the DataFrame column names of
    ``X``, else ``None`` (items are column indices).
n_features_in_ : int
    Number of items.
feature_names_in_ : ndarray of shape (`n_features_in_`,)
    Item names, when ``X`` is a DataFrame with string column names.""",
}

_PLACEHOLDER = re.compile(r"^( *)\{(\w+)\}$", flags=re.MULTILINE)


# The parameters every linear-autoencoder recommender ends its signature with.
_BLOCKS["recommender_parameters"] = "\n".join(
    _BLOCKS[name]
    for name in ("item_ids", "top_k", "dtype", "batch_size", "memory_limit")
)
# Those of the models fitted by other means, whose memory_limit bounds scoring.
_BLOCKS["scoring_parameters"] = "\n".join(
    _BLOCKS[name]
    for name in ("item_ids", "top_k", "batch_size", "memory_limit_scoring")
)


def fill_doc(obj):
    """Replace the ``{name}`` lines of ``obj.__doc__`` with the shared blocks."""

    def block(match):
        indent, name = match.groups()
        return textwrap.indent(_BLOCKS[name], indent)

    obj.__doc__ = _PLACEHOLDER.sub(block, obj.__doc__)
    return obj
