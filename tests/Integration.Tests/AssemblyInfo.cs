// Each test starts real processes (broker, master, workers, browser); on a 2-core machine they run one at a time.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
