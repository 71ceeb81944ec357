"""Django's Redis cache, with one redis-py client per connection pool instead of one per operation.

Django's backend builds a new `redis.Redis` for every get or set; with redis-py 8 that object fills a
table of some 170 response callbacks each time, which costs more than the round trip to a local
Redis. The client is safe to share: it takes a connection from its pool for each command.
"""

from django.core.cache.backends import redis as django_redis


class _ClientPerPool(django_redis.RedisCacheClient):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._clients = {}

    def get_client(self, key=None, *, write=False):
        index = self._get_connection_pool_index(write)
        client = self._clients.get(index)
        if client is None:
            client = self._clients[index] = super().get_client(key, write=write)
        return client


class RedisCache(django_redis.RedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = _ClientPerPool
