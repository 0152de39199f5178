/* SPDX-License-Identifier: MIT */
/*
 * sleepers: a program whose threads all wait for nothing: one in pause(),
 * one in a sleep(60) loop, and main in pause().  It prints "sleepers:
 * waiting" once the threads are started and never ends by itself; a
 * SIGTERM, whose default action ends the process, must end it.
 * tests/integration/real_programs.sh sends one after half a second.
 */
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>

static void *in_pause(void *arg)
{
	for (;;)
		pause();
	return arg;
}

static void *in_sleep(void *arg)
{
	for (;;)
		sleep(60);
	return arg;
}

int main(void)
{
	pthread_t a, b;

	if (pthread_create(&a, NULL, in_pause, NULL) ||
	    pthread_create(&b, NULL, in_sleep, NULL))
		return 1;
	printf("sleepers: waiting\n");
	fflush(stdout);
	for (;;)
		pause();
}
