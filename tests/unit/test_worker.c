/* The worker's job table (sched/worker.h), driven without Redis or
 * children: made-up runner results, fencing, drain, occupancy. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "sched/worker.h"
#include "task/runner.h"

#define BODY "{\"task_id\": 1, \"argv\": [\"true\"], \"attempt\": 1}"

/* The job with this id, or NULL. */
static struct worker_job *find(struct worker_jobs *t, int64_t id)
{
    for (size_t i = 0; i < t->n; i++)
        if (t->v[i].id == id)
            return &t->v[i];
    return NULL;
}

/* Take task id under the current registration and start it as pid. */
static void run(struct worker_jobs *t, int64_t id, pid_t pid)
{
    assert_true(worker_jobs_add(t, t->gen, id, 1, BODY));
    struct worker_job *j = worker_jobs_next_queued(t);
    assert_non_null(j);
    assert_int_equal(j->id, id);
    worker_job_started(j, pid);
    assert_int_equal(find(t, id)->st, WJ_RUNNING);
}

/* Send every completion as the engine does, Redis answering each; returns
 * how many were sent, their ids into sent. */
static int complete_all(struct worker_jobs *t, int64_t *sent)
{
    int n = 0;
    struct worker_job j;
    while (worker_jobs_next_finished(t, &j)) {
        assert_null(j.body);
        sent[n++] = j.id;
        assert_true(worker_jobs_completed(t, j.id, j.gen));
        assert_true(n < 100);
    }
    return n;
}

static bool has_pid(const pid_t *v, size_t n, pid_t pid)
{
    for (size_t i = 0; i < n; i++)
        if (v[i] == pid)
            return true;
    return false;
}

/* Exits with rc N, a kill by a signal, a body that cannot start: each
 * finishes once with its rc and is completed once. */
static void test_runner_results(void **state)
{
    (void)state;
    struct worker_jobs t;
    worker_jobs_init(&t, 4);
    run(&t, 1, 101);
    run(&t, 2, 102);
    run(&t, 3, 103);
    assert_true(worker_jobs_add(&t, 0, 4, 2, BODY));
    worker_job_finished(worker_jobs_next_queued(&t), RUNNER_RC_BAD); /* did not start */
    assert_null(worker_jobs_next_queued(&t));
    assert_int_equal(worker_jobs_occupied(&t), 3);

    struct worker_job j;
    assert_int_equal(worker_jobs_exited(&t, 101, runner_rc(0), &j), WJ_EXIT_DONE);
    assert_int_equal(j.id, 1);
    assert_int_equal(j.st, WJ_FINISHED);
    assert_int_equal(worker_jobs_exited(&t, 102, runner_rc(3 << 8), &j), WJ_EXIT_DONE);
    assert_int_equal(j.rc, 3);
    assert_int_equal(worker_jobs_exited(&t, 103, runner_rc(SIGKILL), NULL), WJ_EXIT_DONE);
    assert_int_equal(find(&t, 3)->rc, 128 + SIGKILL);
    assert_int_equal(worker_jobs_exited(&t, 999, 0, &j), WJ_EXIT_UNKNOWN);
    /* the same child cannot end twice */
    assert_int_equal(worker_jobs_exited(&t, 101, 1, &j), WJ_EXIT_UNKNOWN);
    assert_int_equal(find(&t, 1)->rc, 0);
    assert_int_equal(worker_jobs_occupied(&t), 0);

    int64_t sent[100];
    int rcs[5] = {0};
    struct worker_job f;
    for (int k = 0; worker_jobs_next_finished(&t, &f); k++) {
        rcs[f.id] = f.rc;
        assert_true(worker_jobs_completed(&t, f.id, f.gen));
        assert_false(worker_jobs_completed(&t, f.id, f.gen)); /* never twice */
        assert_true(k < 4);
    }
    assert_int_equal(rcs[1], 0);
    assert_int_equal(rcs[2], 3);
    assert_int_equal(rcs[3], 128 + SIGKILL);
    assert_int_equal(rcs[4], RUNNER_RC_BAD);
    assert_int_equal(t.n, 0);
    assert_int_equal(complete_all(&t, sent), 0);
    worker_jobs_free(&t);
}

/* Redis failed on a completion: it is sent again later, and only once
 * acknowledged it is gone; a refused one (superseded) is not retried. */
static void test_completion_retry_and_refusal(void **state)
{
    (void)state;
    struct worker_jobs t;
    worker_jobs_init(&t, 2);
    run(&t, 7, 700);
    assert_int_equal(worker_jobs_exited(&t, 700, 0, NULL), WJ_EXIT_DONE);
    struct worker_job j;
    assert_true(worker_jobs_next_finished(&t, &j)); /* sent; Redis down: nothing changes */
    assert_true(worker_jobs_next_finished(&t, &j)); /* the retry */
    assert_int_equal(j.id, 7);
    /* answered "superseded": the lease ran out and the task went elsewhere */
    assert_true(worker_jobs_completed(&t, 7, j.gen));
    assert_false(worker_jobs_next_finished(&t, &j));
    assert_false(worker_jobs_completed(&t, 7, j.gen));
    /* the same task delivered again (attempt 2) is a new job */
    assert_true(worker_jobs_add(&t, 0, 7, 2, BODY));
    assert_int_equal(find(&t, 7)->attempt, 2);
    assert_int_equal(find(&t, 7)->st, WJ_QUEUED);
    worker_jobs_free(&t);
}

/* Fenced: the old registration's children are stopped and never completed,
 * its queued and unsent jobs dropped, late takes refused; takes resume
 * after registering again, under the next id. */
static void test_fence(void **state)
{
    (void)state;
    struct worker_jobs t;
    worker_jobs_init(&t, 4);
    run(&t, 1, 201);
    run(&t, 2, 202);
    run(&t, 3, 203);
    assert_int_equal(worker_jobs_exited(&t, 203, 0, NULL), WJ_EXIT_DONE); /* unsent */
    assert_true(worker_jobs_add(&t, 0, 4, 1, BODY));                       /* queued */

    assert_false(worker_jobs_see_fence(&t, 1)); /* not this registration */
    assert_true(worker_jobs_see_fence(&t, 0));
    assert_false(worker_jobs_see_fence(&t, 0)); /* news once */
    assert_false(worker_jobs_can_take(&t));

    pid_t *stop;
    size_t n = worker_jobs_fence(&t, &stop);
    assert_int_equal(n, 2);
    assert_true(has_pid(stop, n, 201) && has_pid(stop, n, 202));
    free(stop);
    assert_int_equal(t.gen, 1);
    assert_int_equal(find(&t, 1)->st, WJ_FENCED);
    assert_int_equal(find(&t, 2)->st, WJ_FENCED);
    assert_null(find(&t, 3));
    assert_null(find(&t, 4));
    struct worker_job j;
    assert_false(worker_jobs_next_finished(&t, &j));
    assert_false(worker_jobs_completed(&t, 3, 0)); /* a completion in flight: dropped */
    assert_false(worker_jobs_completed(&t, 2, 0)); /* only a FINISHED job completes */
    assert_int_equal(find(&t, 2)->st, WJ_FENCED);
    int64_t *held;
    assert_int_equal(worker_jobs_held(&t, &held), 0);
    free(held);

    /* a take under the old id that raced the fence is refused */
    assert_false(worker_jobs_add(&t, 0, 5, 1, BODY));
    /* the children being stopped still hold their slots */
    assert_int_equal(worker_jobs_occupied(&t), 2);
    pid_t *kill;
    n = worker_jobs_stopping(&t, &kill);
    assert_int_equal(n, 2);
    free(kill);

    /* a fenced child ending with rc 0 does not count */
    assert_int_equal(worker_jobs_exited(&t, 201, 0, &j), WJ_EXIT_STOPPED);
    assert_int_equal(j.id, 1);
    assert_null(find(&t, 1));
    assert_false(worker_jobs_next_finished(&t, &j));

    assert_false(worker_jobs_can_take(&t)); /* fenced until registered again */
    worker_jobs_registered(&t);
    assert_true(worker_jobs_can_take(&t));
    run(&t, 6, 206);
    assert_int_equal(find(&t, 6)->gen, 1);
    assert_int_equal(worker_jobs_held(&t, &held), 1);
    assert_int_equal(held[0], 6);
    free(held);
    /* a second fence stops only the new registration's child */
    assert_true(worker_jobs_see_fence(&t, 1));
    n = worker_jobs_fence(&t, &stop);
    assert_int_equal(n, 1);
    assert_int_equal(stop[0], 206);
    free(stop);
    assert_int_equal(find(&t, 2)->st, WJ_FENCED);
    worker_jobs_free(&t);

    char id[64];
    worker_id("n1", 42, 0, id, sizeof id);
    assert_string_equal(id, "n1:42");
    worker_id("n1", 42, 3, id, sizeof id);
    assert_string_equal(id, "n1:42.3");
}

/* SIGTERM: nothing more is taken, running jobs finish and are completed up
 * to the grace; then (or at a second signal) they are stopped. */
static void test_drain(void **state)
{
    (void)state;
    struct worker_jobs t;
    worker_jobs_init(&t, 3);
    run(&t, 1, 301);
    run(&t, 2, 302);
    assert_false(worker_jobs_idle(&t)); /* not draining */
    assert_int_equal(worker_jobs_drain(&t, 1000, 500), 2);
    assert_false(worker_jobs_can_take(&t));
    /* taken while the signal came: not run, left in flight for rq_leave */
    assert_false(worker_jobs_add(&t, 0, 3, 1, BODY));
    assert_null(worker_jobs_next_queued(&t));
    assert_false(worker_jobs_grace_over(&t, 1499));

    assert_int_equal(worker_jobs_exited(&t, 301, 0, NULL), WJ_EXIT_DONE);
    assert_false(worker_jobs_idle(&t)); /* 302 runs */
    int64_t sent[100];
    assert_int_equal(complete_all(&t, sent), 1);
    assert_int_equal(sent[0], 1);

    assert_true(worker_jobs_grace_over(&t, 1500));
    pid_t *stop;
    size_t n = worker_jobs_abandon(&t, &stop);
    assert_int_equal(n, 1);
    assert_int_equal(stop[0], 302);
    free(stop);
    assert_false(worker_jobs_grace_over(&t, 9999));
    assert_int_equal(find(&t, 2)->st, WJ_ABANDONED);
    assert_false(worker_jobs_idle(&t)); /* until the child is gone */
    assert_int_equal(worker_jobs_exited(&t, 302, 128 + SIGTERM, NULL), WJ_EXIT_STOPPED);
    assert_true(worker_jobs_idle(&t));
    assert_int_equal(complete_all(&t, sent), 0); /* its task goes back with rq_leave */
    worker_jobs_free(&t);
}

/* Without --grace the drain waits for every child and every completion;
 * a second signal stops the children and gives up on unsent completions. */
static void test_drain_no_grace_second_signal(void **state)
{
    (void)state;
    struct worker_jobs t;
    worker_jobs_init(&t, 2);
    run(&t, 1, 401);
    run(&t, 2, 402);
    assert_int_equal(worker_jobs_drain(&t, 1000, -1), 2);
    assert_false(worker_jobs_grace_over(&t, INT64_MAX / 2));
    assert_int_equal(worker_jobs_exited(&t, 401, 1, NULL), WJ_EXIT_DONE);
    assert_int_equal(worker_jobs_exited(&t, 402, 0, NULL), WJ_EXIT_DONE);
    assert_false(worker_jobs_idle(&t)); /* completions not acknowledged (Redis down) */
    struct worker_job j;
    assert_true(worker_jobs_next_finished(&t, &j));
    assert_true(worker_jobs_completed(&t, j.id, j.gen));
    assert_false(worker_jobs_idle(&t));

    pid_t *stop;
    assert_int_equal(worker_jobs_abandon(&t, &stop), 0); /* second signal: none runs */
    free(stop);
    assert_true(worker_jobs_idle(&t)); /* forced: the unsent one is left to rq_leave */
    assert_int_equal(t.n, 1);
    worker_jobs_free(&t);
}

/* Occupancy never exceeds the slots, whatever the order of takes, starts,
 * exits, completions, fences and registrations. */
static void test_occupancy(void **state)
{
    (void)state;
    for (int slots = 1; slots <= 4; slots++) {
        struct worker_jobs t;
        worker_jobs_init(&t, slots);
        uint32_t r = 12345u + (uint32_t)slots;
        int64_t next_id = 1;
        pid_t next_pid = 1000;
        int took = 0, refused = 0;
        for (int step = 0; step < 5000; step++) {
            r = r * 1103515245u + 12345u;
            int op = (int)(r >> 16) % 10;
            struct worker_job *q = worker_jobs_next_queued(&t);
            if (op <= 3) {
                bool can = worker_jobs_can_take(&t);
                bool ok = worker_jobs_add(&t, t.gen, next_id++, 1, BODY);
                if (!t.fenced)
                    assert_int_equal(ok, can);
                took += ok;
                refused += !ok;
            } else if (op == 4 && q) {
                worker_job_started(q, next_pid++);
            } else if (op == 5 && t.n) {
                struct worker_job *j = &t.v[(r >> 8) % t.n];
                if (j->st == WJ_RUNNING || j->st == WJ_FENCED)
                    worker_jobs_exited(&t, j->pid, (int)(r % 3), NULL);
            } else if (op == 6) {
                struct worker_job j;
                if (worker_jobs_next_finished(&t, &j))
                    worker_jobs_completed(&t, j.id, j.gen);
            } else if (op == 7 && (r & 0x100)) {
                pid_t *stop;
                worker_jobs_see_fence(&t, t.gen);
                worker_jobs_fence(&t, &stop);
                free(stop);
            } else if (op == 8) {
                worker_jobs_registered(&t);
            }
            int held = 0;
            for (size_t i = 0; i < t.n; i++)
                held += t.v[i].st != WJ_FINISHED;
            assert_int_equal(worker_jobs_occupied(&t), held);
            assert_true(held <= slots);
        }
        assert_true(took > 100 && refused > 100);
        worker_jobs_free(&t);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_runner_results),
        cmocka_unit_test(test_completion_retry_and_refusal),
        cmocka_unit_test(test_fence),
        cmocka_unit_test(test_drain),
        cmocka_unit_test(test_drain_no_grace_second_signal),
        cmocka_unit_test(test_occupancy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
