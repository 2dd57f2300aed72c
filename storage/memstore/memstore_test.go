package memstore_test

import (
	"testing"

	"cote/storage"
	"cote/storage/memstore"
	"cote/storage/storagetest"
)

func TestConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Store { return memstore.New() })
}

func TestConformanceDot(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Store {
		return memstore.NewWithOptions(memstore.Options{Delimiter: '.'})
	})
}
