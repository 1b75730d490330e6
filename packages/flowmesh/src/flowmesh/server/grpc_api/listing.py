"""The listing RPCs (extensions): ListStreams, ListConsumerGroups, ListQueues,
ListKVStores, over ListingOps. Mixed into the stream, queue and KV services."""

from __future__ import annotations

import grpc

from flowmesh.proto import flowmesh_pb2 as pb
from flowmesh.server.grpc_api.base import Service, ok
from flowmesh.server.ops.streams import GroupState
from flowmesh.server.store.records import QueueStats, Resource


def path_pb(resource: Resource, kind: str) -> pb.ResourcePath:
    return pb.ResourcePath(tenant=resource.tenant, namespace=resource.namespace,
                           resource_type=kind, name=resource.name)  # fmt: skip


def group_state_pb(s: GroupState) -> pb.ConsumerGroupState:
    return pb.ConsumerGroupState(
        stream=s.stream.typed_path("stream"), group=s.group, partition=s.partition,
        committed_offset=s.committed_offset, latest_offset=s.latest_offset, lag=s.lag,
    )  # fmt: skip


def queue_stats_pb(s: QueueStats) -> pb.QueueStats:
    return pb.QueueStats(
        total_jobs=s.total_jobs,
        pending_jobs=s.pending_jobs,
        in_flight_jobs=s.in_flight_jobs,
        completed_jobs=s.completed_jobs,
        failed_jobs=s.failed_jobs,
        oldest_job_age_seconds=s.oldest_pending_age_ms // 1000,
        delayed_jobs=s.delayed_jobs,
        dlq_jobs=s.dlq_jobs,
        oldest_job_age_ms=s.oldest_pending_age_ms,
    )


class StreamListing(Service):
    async def ListStreams(
        self, request: pb.ListStreamsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListStreamsResponse:
        async def body() -> pb.ListStreamsResponse:
            f = request.filter
            page = await self.ops.listing.streams_page(
                self.caller(context), f.tenant, f.namespace, request.page_size, request.page_token
            )
            return pb.ListStreamsResponse(status=ok(), next_page_token=page.next_page_token,
                                          streams=[
                pb.StreamInfo(
                    resource_path=path_pb(i.resource, "stream"),
                    config=pb.StreamConfig(
                        partitions=i.config.partitions,
                        retention_max_messages=i.config.retention_max_messages,
                        retention_max_age_ms=i.config.retention_max_age_ms,
                    ),
                    latest_offsets=i.latest_offsets,
                    messages=i.messages,
                )
                for i in page.items
            ])  # fmt: skip

        return await self.call("stream.list", context, body)

    async def ListConsumerGroups(
        self, request: pb.ListConsumerGroupsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListConsumerGroupsResponse:
        async def body() -> pb.ListConsumerGroupsResponse:
            found = await self.ops.listing.groups(
                self.caller(context), self.resource(request, "stream")
            )
            return pb.ListConsumerGroupsResponse(
                status=ok(), groups=[group_state_pb(s) for s in found]
            )

        return await self.call("stream.list_groups", context, body)


class QueueListing(Service):
    async def ListQueues(
        self, request: pb.ListQueuesRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListQueuesResponse:
        async def body() -> pb.ListQueuesResponse:
            f = request.filter
            page = await self.ops.listing.queues_page(
                self.caller(context), f.tenant, f.namespace, request.page_size, request.page_token
            )
            return pb.ListQueuesResponse(status=ok(), next_page_token=page.next_page_token,
                                          queues=[
                pb.QueueInfo(resource_path=path_pb(i.resource, "queue"),
                             stats=queue_stats_pb(i.stats))
                for i in page.items
            ])  # fmt: skip

        return await self.call("queue.list", context, body)


class KVListing(Service):
    async def ListKVStores(
        self, request: pb.ListKVStoresRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListKVStoresResponse:
        async def body() -> pb.ListKVStoresResponse:
            f = request.filter
            page = await self.ops.listing.kv_stores_page(
                self.caller(context), f.tenant, f.namespace, request.page_size, request.page_token
            )
            return pb.ListKVStoresResponse(status=ok(), next_page_token=page.next_page_token,
                                          stores=[
                pb.KVStoreInfo(resource_path=path_pb(i.resource, "kv"), keys=i.keys)
                for i in page.items
            ])  # fmt: skip

        return await self.call("kv.list_stores", context, body)
