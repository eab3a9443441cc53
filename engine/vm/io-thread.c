/*
 * io-thread.c - one thread that waits on the devices' eventfds (queue
 * notifications through KVM_IOEVENTFD) so a kick costs the vCPU no exit
 * to userspace; the device work then runs here.
 */
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "engine/vm/vmm-int.h"

int
io_init(struct vmm *vm, struct hv_err *err)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };

	vm->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	vm->io_stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vm->epoll_fd < 0 || vm->io_stop_fd < 0 ||
	    epoll_ctl(vm->epoll_fd, EPOLL_CTL_ADD, vm->io_stop_fd, &ev) != 0)
		return hv_fail(err, HV_EIO, "epoll: %s", strerror(errno));
	return 0;
}

static int
watch_add(struct vmm *vm, int fd, void (*fn)(void *), void *opaque, bool raw)
{
	struct epoll_event ev = { .events = raw ? EPOLLIN | EPOLLET : EPOLLIN };
	struct io_watch *w;

	if (vm->nwatch >= VMM_MAX_WATCH)
		return -1;
	w = &vm->watch[vm->nwatch++];
	*w = (struct io_watch){ fd, fn, opaque, raw };
	ev.data.ptr = w;
	return epoll_ctl(vm->epoll_fd, EPOLL_CTL_ADD, fd, &ev);
}

int
io_watch(struct vmm *vm, int fd, void (*fn)(void *), void *opaque)
{
	return watch_add(vm, fd, fn, opaque, false);
}

int
io_watch_raw(struct vmm *vm, int fd, void (*fn)(void *), void *opaque)
{
	return watch_add(vm, fd, fn, opaque, true);
}

static void *
io_thread(void *arg)
{
	struct vmm *vm = arg;
	struct epoll_event ev[16];
	uint64_t cnt;
	int n, i;

	for (;;) {
		n = epoll_wait(vm->epoll_fd, ev, 16, -1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;
		for (i = 0; i < n; i++) {
			struct io_watch *w = ev[i].data.ptr;

			if (!w)
				return NULL;	/* io_stop_fd */
			if (w->raw || read(w->fd, &cnt, sizeof cnt) == sizeof cnt)
				w->fn(w->opaque);
		}
	}
	vmm_log(vm, "I/O thread: epoll_wait: %s", strerror(errno));
	return NULL;
}

int
io_thread_start(struct vmm *vm, struct hv_err *err)
{
	int rc;

	rc = pthread_create(&vm->io_thread, NULL, io_thread, vm);
	if (rc != 0)
		return hv_fail(err, HV_EIO, "I/O thread: %s", strerror(rc));
	vm->io_started = true;
	return 0;
}

void
io_thread_stop(struct vmm *vm)
{
	uint64_t one = 1;

	if (vm->io_started) {
		if (write(vm->io_stop_fd, &one, sizeof one) != sizeof one)
			vmm_log(vm, "I/O thread: cannot wake it");
		pthread_join(vm->io_thread, NULL);
		vm->io_started = false;
	}
	if (vm->epoll_fd >= 0)
		close(vm->epoll_fd);
	if (vm->io_stop_fd >= 0)
		close(vm->io_stop_fd);
	vm->epoll_fd = vm->io_stop_fd = -1;
}
