package memstore_test

import (
	"testing"

	"cote/storage"
	"cote/storage/memstore"
	"cote/storage/storagetest"
)

func TestURLAuthKeys(t *testing.T) {
	storagetest.URLAuthKeys(t, func(t *testing.T) storage.Store { return memstore.New() })
}
